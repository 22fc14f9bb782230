import { createServer, type Server } from 'node:http'
import { networkInterfaces } from 'node:os'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createGateway, type Gateway } from '402x-api/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Adversarial review of the decision service: can a caller of the app server (who controls
// the request's headers, Host, path and body, but not `route`, `pattern` or `finish`) get
// the handler run without paying, pay less, or pay once and be served twice? And who may
// call the service itself? Real gateway, chain and facilitator.

let stack: Stack
let gateway: Gateway
let server: Server
let url: string
let buyers = 0
const api = 'http://127.0.0.1:5000'

type Wire = {
  action: string
  status?: number
  headers: Record<string, string>
  body?: string
  ticket?: string | null
  charged?: boolean
  error?: string
  message?: string
}

async function call(path: string, body: unknown, headers: Record<string, string> = {}, base = url) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Wire }
}

type Decide = { path: string; headers?: Record<string, string>; route?: unknown; pattern?: string; method?: string }
const decide = ({ path, headers = {}, route = { price: 0.01 }, pattern, method = 'GET' }: Decide) =>
  call('/__402x/decide', {
    method,
    url: path.startsWith('http') ? path : `${api}${path}`,
    headers,
    ...(route ? { route } : {}),
    ...(pattern ? { pattern } : {}),
  })
const finish = (ticket: unknown, status = 200, extra: Record<string, unknown> = {}) =>
  call('/__402x/finish', { ticket, status, ...extra })

const requirementsOf = (wire: Wire): PaymentRequirements => {
  const decoded = decodeHeader(wire.headers['payment-required'] ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED in ${JSON.stringify(wire)}`)
  return decoded.value.accepts[0] as PaymentRequirements
}
const nextBuyer = () => stack.chain.buyers[buyers++ % stack.chain.buyers.length]!

/** A signed payment for what `decide` asks (by the next buyer, or `buyer`). */
async function paymentFor(input: Decide, buyer = nextBuyer()) {
  const challenge = await decide(input)
  expect(challenge.json).toMatchObject({ action: 'respond', status: 402 })
  return { buyer, header: signedPayment(buyer, requirementsOf(challenge.json)) }
}

async function creditToken(amount = '1') {
  const unpaid = await fetch(`${url}/__402x/credits?amount=${amount}`, { method: 'POST' })
  const decoded = decodeHeader(unpaid.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error('no challenge')
  const bought = await fetch(`${url}/__402x/credits?amount=${amount}`, {
    method: 'POST',
    headers: { 'payment-signature': signedPayment(nextBuyer(), decoded.value.accepts[0] as PaymentRequirements) },
  })
  expect(bought.status).toBe(200)
  return ((await bought.json()) as { token: string }).token
}

const balanceOf = async (token: string) => {
  const res = await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${token}` } })
  return ((await res.json()) as { atomic: { available: string } }).atomic.available
}

beforeAll(async () => {
  stack = await startStack()
  gateway = createGateway({ ...stack.paywall(), routes: {} })
  server = createServer(gateway.listener)
  url = await listen(server)
}, 120_000)
afterAll(async () => {
  await close(server)
  await gateway?.close()
  await stack?.stop()
})

describe('one payment, one answer', () => {
  it('a payment used via PAYMENT-SIGNATURE is not served again via the seed X-402-Payment (or X-PAYMENT)', async () => {
    const { buyer, header } = await paymentFor({ path: '/api/replay' })
    const before = await stack.chain.balanceOf(buyer.address)
    const first = await decide({ path: '/api/replay', headers: { 'payment-signature': header } })
    expect(first.json.action).toBe('proceed')
    expect((await finish(first.json.ticket)).json.charged).toBe(true)
    for (const name of ['X-402-Payment', 'x-payment', 'PAYMENT-SIGNATURE']) {
      const replay = await decide({ path: '/api/replay', headers: { [name]: header } })
      expect(replay.json.action, name).toBe('respond')
      expect(replay.json.status, name).toBeGreaterThanOrEqual(400)
    }
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
  })

  it('with PAYMENT-SIGNATURE and X-402-Payment both present, only PAYMENT-SIGNATURE is used', async () => {
    const buyer = nextBuyer()
    const a = await paymentFor({ path: '/api/both' }, buyer)
    const b = await paymentFor({ path: '/api/both' }, buyer)
    const before = await stack.chain.balanceOf(buyer.address)
    const both = await decide({
      path: '/api/both',
      headers: { 'payment-signature': a.header, 'x-402-payment': b.header },
    })
    expect(both.json.action).toBe('proceed')
    expect((await finish(both.json.ticket)).json.charged).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
    // The seed header's payment was not touched: it pays once, later, on its own.
    const later = await decide({ path: '/api/both', headers: { 'x-402-payment': b.header } })
    expect(later.json.action).toBe('proceed')
    expect((await finish(later.json.ticket)).json.charged).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 20_000n)
  })

  it('a ticket finished twice at once settles once; abort racing finish: one wins, the money agrees', async () => {
    const { buyer, header } = await paymentFor({ path: '/api/twice' })
    const before = await stack.chain.balanceOf(buyer.address)
    const proceed = await decide({ path: '/api/twice', headers: { 'payment-signature': header } })
    const all = await Promise.all(Array.from({ length: 4 }, () => finish(proceed.json.ticket)))
    expect(all.map((r) => r.status).sort()).toEqual([200, 404, 404, 404])
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)

    const raced = await paymentFor({ path: '/api/race' })
    const start = await stack.chain.balanceOf(raced.buyer.address)
    const ticket = (await decide({ path: '/api/race', headers: { 'payment-signature': raced.header } })).json.ticket
    const [aborted, finished] = await Promise.all([call('/__402x/abort', { ticket }), finish(ticket)])
    expect([aborted.status, finished.status].sort()).toEqual([200, 404])
    const charged = finished.status === 200 ? 10_000n : 0n
    expect(await stack.chain.balanceOf(raced.buyer.address)).toBe(start - charged)
  })

  it('a payment for a cheaper declaration of the same pattern does not pay a dearer one', async () => {
    const cheap = { price: 0.01 }
    const dear = { price: 0.05 }
    const pattern = 'GET /api/items/:id'
    const { header } = await paymentFor({ path: '/api/items/1', route: cheap, pattern })
    const challenge = await decide({ path: '/api/items/2', route: dear, pattern })
    expect(requirementsOf(challenge.json).amount).toBe('50000')
    const paid = await decide({ path: '/api/items/2', route: dear, pattern, headers: { 'payment-signature': header } })
    expect(paid.json.action).toBe('respond')
    expect(paid.json.status).toBe(402)
  })
})

describe("the caller's request cannot change the price", () => {
  it('headers, a Host that rewrites the URL, and forged tracking headers: the declared price holds, or 400', async () => {
    const forged = {
      'x-402x-paid': '0 0x0',
      'x-402x-consumer': '0xforged',
      'x-forwarded-for': '10.0.0.1',
      'x-http-method-override': 'OPTIONS',
      'x-original-url': '/__402x/credits',
    }
    const plain = await decide({ path: '/api/x', headers: forged })
    expect(plain.json).toMatchObject({ action: 'respond', status: 402 })
    expect(requirementsOf(plain.json).amount).toBe('10000')
    // A server that builds the URL from the caller's Host (werkzeug's request.url) sends
    // `http://<Host><path>`: a Host of `h/__402x/credits?amount=0.01&` makes it the credit
    // endpoint's URL, which a declaration does not override. The Host check refuses it; a
    // discovery path answers its document. The handler never runs unpaid.
    for (const [host, method, status] of [
      ['h/__402x/credits?amount=0.01&', 'POST', 400],
      ['h/__402x/credits#', 'GET', 400],
      ['h/openapi.json#', 'GET', 200],
      ['h/openapi.json#', 'POST', 400],
      ['h/__402x/admin/keys#', 'GET', 400],
    ] as const) {
      const injected = await decide({ path: `http://${host}/api/x`, headers: { host }, method })
      expect(injected.json, `${method} ${host}`).toMatchObject({ action: 'respond', status })
    }
  })

  it('refuses finish units that are negative, not finite or not numbers; units past max are not served', async () => {
    const token = await creditToken()
    const route = { pricePerToken: 0.0001, max: 0.01 }
    const before = await balanceOf(token)
    const proceed = await decide({ path: '/api/llm', headers: { authorization: `Bearer ${token}` }, route })
    const ticket = proceed.json.ticket
    for (const units of ['-1', '1e400', '"12"', 'null', '[1]']) {
      const res = await fetch(`${url}/__402x/finish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"ticket":${JSON.stringify(ticket)},"status":200,"units":${units}}`,
      })
      expect(res.status, units).toBe(400)
    }
    // The ticket survives bad input; units far past the maximum are refused, charged nothing.
    const huge = await finish(ticket, 200, { units: 1e300 })
    expect(huge.json).toMatchObject({ action: 'respond', status: 502 })
    expect(JSON.parse(huge.json.body ?? '{}').reason).toBe('metered_over_max')
    // Nothing to count (no units, no body): meter_failed, charged nothing.
    const empty = await decide({ path: '/api/llm', headers: { authorization: `Bearer ${token}` }, route })
    const none = await finish(empty.json.ticket, 200)
    expect(none.json).toMatchObject({ action: 'respond', status: 500 })
    expect(await balanceOf(token)).toBe(before)
  })

  it('a ticket is unguessable and good only at finish: a made-up one is 404', async () => {
    const proceed = await decide({ path: '/api/y', headers: {} })
    expect(proceed.json.action).toBe('respond')
    for (const ticket of ['t_', 't_AAAAAAAAAAAAAAAAAAAAAAAA', '', '__proto__', 'constructor'])
      expect((await finish(ticket)).status, ticket).toBe(404)
  })
})

describe('who may call the decision service', () => {
  it('answers loopback callers (IPv4-mapped IPv6 too), not another address, without a token', async () => {
    const open = createGateway({ ...stack.paywall(), routes: {} })
    const dual = createServer(open.listener)
    await new Promise<void>((resolve) => dual.listen(0, '::', resolve))
    const port = (dual.address() as { port: number }).port
    const body = { method: 'GET', url: `${api}/x`, route: { price: 0.01 } }
    try {
      // Through the dual-stack socket, 127.0.0.1 arrives as ::ffff:127.0.0.1.
      expect((await call('/__402x/decide', body, {}, `http://127.0.0.1:${port}`)).status).toBe(200)
      expect((await call('/__402x/decide', body, {}, `http://[::1]:${port}`)).status).toBe(200)
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
      if (external) {
        const far = await call('/__402x/decide', body, {}, `http://${external}:${port}`)
        expect(far.status).toBe(403)
        expect(far.json.error).toBe('gateway_forbidden')
      } else {
        console.warn('no non-loopback IPv4 address here: the 403 for a remote caller is not checked')
      }
    } finally {
      await close(dual)
      await open.close()
    }
  })

  it('a loopback peer forwarding for someone else (a reverse proxy on this machine) is not a local caller', async () => {
    // Behind nginx or Caddy on the same machine every caller arrives from 127.0.0.1: the
    // loopback rule would open /__402x/decide (served by `402x proxy` on its public port
    // too) to the Internet. A request that says it was forwarded needs the token.
    const body = { method: 'GET', url: `${api}/x`, route: { price: 0.01 } }
    for (const headers of [
      { 'x-forwarded-for': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
    ]) {
      const res = await call('/__402x/decide', body, headers)
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(res.json.error).toBe('gateway_forbidden')
    }
    expect((await call('/__402x/decide', body)).status).toBe(200)
  })
})
