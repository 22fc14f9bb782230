import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createGateway, type Gateway } from '402x-api/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// The decision service (docs/decision-service.md) against a real chain and facilitator: an
// app server in any language calls decide around its handler, then finish.

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
}

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Wire & { error?: string; message?: string } }
}

const decide = (path: string, headers: Record<string, string> = {}, route: unknown = { price: 0.01 }, method = 'GET') =>
  call('/__402x/decide', { method, url: `${api}${path}`, headers, ...(route ? { route } : {}) })

const requirementsOf = (wire: Wire): PaymentRequirements => {
  const decoded = decodeHeader(wire.headers['payment-required'] ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED in ${JSON.stringify(wire)}`)
  return decoded.value.accepts[0] as PaymentRequirements
}

/** A payment for `path` by the next buyer: its header and the buyer. */
async function paymentFor(path: string, route: unknown = { price: 0.01 }) {
  const challenge = await decide(path, {}, route)
  expect(challenge.json).toMatchObject({ action: 'respond', status: 402 })
  const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
  return { buyer, header: signedPayment(buyer, requirementsOf(challenge.json)) }
}

beforeAll(async () => {
  stack = await startStack()
  gateway = createGateway({ ...stack.paywall(), routes: { 'GET /configured': 0.02 }, decisions: { ticketTtlMs: 1500 } })
  server = createServer(gateway.listener)
  url = await listen(server)
}, 120_000)
afterAll(async () => {
  await close(server)
  await gateway?.close()
  await stack?.stop()
})

describe('decide and finish', () => {
  it('answers an unpaid call with the challenge for the declared price, and a free path with proceed', async () => {
    const unpaid = await decide('/api/data')
    expect(unpaid.status).toBe(200)
    expect(unpaid.json.action).toBe('respond')
    expect(unpaid.json.status).toBe(402)
    expect(requirementsOf(unpaid.json)).toMatchObject({ amount: '10000', payTo: stack.chain.payTo.address })
    expect(JSON.parse(unpaid.json.body ?? '{}').error).toBeTruthy()
    const free = await decide('/free', {}, null)
    expect(free.json).toEqual({ action: 'proceed', ticket: null, headers: {} })
    // The gateway's own routes table prices a call that declares nothing.
    const configured = await decide('/configured', {}, null)
    expect(requirementsOf(configured.json).amount).toBe('20000')
  })

  it('serves a paid call: proceed with a ticket and who paid, then finish settles and gives the receipt', async () => {
    const { buyer, header } = await paymentFor('/api/data')
    const before = await stack.chain.balanceOf(buyer.address)
    const proceed = await decide('/api/data', { 'payment-signature': header })
    expect(proceed.json.action).toBe('proceed')
    expect(proceed.json.ticket).toMatch(/^t_/)
    expect(proceed.json.headers['x-402x-consumer']?.toLowerCase()).toBe(buyer.address.toLowerCase())
    // Nothing is charged before the handler's answer.
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    const done = await call('/__402x/finish', { ticket: proceed.json.ticket, status: 200 })
    expect(done.json.action).toBe('send')
    expect(done.json).toMatchObject({ charged: true })
    expect(done.json.headers['payment-response']).toBeTruthy()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
    // A ticket is good once.
    const again = await call('/__402x/finish', { ticket: proceed.json.ticket, status: 200 })
    expect(again.status).toBe(404)
    expect(again.json.error).toBe('ticket_unknown')
    // The same payment again is not served a second time.
    const replay = await decide('/api/data', { 'payment-signature': header })
    expect(replay.json.action).toBe('respond')
    expect(replay.json.status).toBeGreaterThanOrEqual(400)
  })

  it("reads the seed's X-402-Payment header as the payment", async () => {
    const { header } = await paymentFor('/api/seed')
    const proceed = await decide('/api/seed', { 'X-402-Payment': header })
    expect(proceed.json.action).toBe('proceed')
    const done = await call('/__402x/finish', { ticket: proceed.json.ticket, status: 200 })
    expect(done.json.charged).toBe(true)
  })

  it('charges nothing when the handler fails, and the same payment then pays', async () => {
    const { buyer, header } = await paymentFor('/api/flaky')
    const before = await stack.chain.balanceOf(buyer.address)
    const first = await decide('/api/flaky', { 'payment-signature': header })
    const failed = await call('/__402x/finish', { ticket: first.json.ticket, status: 500 })
    expect(failed.json).toEqual({ action: 'send', charged: false, headers: {} })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    const retry = await decide('/api/flaky', { 'payment-signature': header })
    expect(retry.json.action).toBe('proceed')
    await call('/__402x/finish', { ticket: retry.json.ticket, status: 200 })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
  })

  it('gives one ticket to concurrent decides of one payment', async () => {
    const { header } = await paymentFor('/api/race')
    const all = await Promise.all(Array.from({ length: 5 }, () => decide('/api/race', { 'payment-signature': header })))
    const proceeds = all.filter((r) => r.json.action === 'proceed')
    expect(proceeds).toHaveLength(1)
    await call('/__402x/finish', { ticket: proceeds[0]?.json.ticket, status: 200 })
  })

  it('releases a ticket that is never finished, once it expires', async () => {
    const { buyer, header } = await paymentFor('/api/abandoned')
    const before = await stack.chain.balanceOf(buyer.address)
    const proceed = await decide('/api/abandoned', { 'payment-signature': header })
    expect(proceed.json.action).toBe('proceed')
    await sleep(2_000)
    expect(gateway.openTickets).toBe(0)
    const late = await call('/__402x/finish', { ticket: proceed.json.ticket, status: 200 })
    expect(late.json.error).toBe('ticket_unknown')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    // Released, so the caller's payment still pays.
    const retry = await decide('/api/abandoned', { 'payment-signature': header })
    expect(retry.json.action).toBe('proceed')
    await call('/__402x/abort', { ticket: retry.json.ticket, reason: 'test' })
  })

  it('refuses a spelling servers read in different ways under a priced route', async () => {
    const odd = await call('/__402x/decide', { method: 'GET', url: `${api}/configured/../configured`, headers: {} })
    expect(odd.json).toMatchObject({ action: 'respond', status: 400 })
    expect(JSON.parse(odd.json.body ?? '{}').reason).toBe('ambiguous_path')
  })

  it('answers bad input with 400 naming the field, and a bad declared route too', async () => {
    const bad = await call('/__402x/decide', { method: 'GET', url: 'not a url' })
    expect(bad.status).toBe(400)
    expect(bad.json.message).toMatch(/^url: /)
    const unknownKey = await call('/__402x/decide', { method: 'GET', url: `${api}/x`, route: { prize: 1 } })
    expect(unknownKey.status).toBe(400)
    const badPrice = await decide('/x', {}, { price: 'lots' })
    expect(badPrice.status).toBe(400)
    expect(badPrice.json.error).toBe('invalid_request')
    const notJson = await fetch(`${url}/__402x/decide`, { method: 'POST', body: '{' })
    expect(notJson.status).toBe(400)
    const get = await fetch(`${url}/__402x/decide`)
    expect(get.status).toBe(405)
  })
})

describe('credit through the decision service', () => {
  it('draws a metered call from credit by the units the app reports, and refunds the rest', async () => {
    const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
    const unpaid = await fetch(`${url}/__402x/credits?amount=1`, { method: 'POST' })
    expect(unpaid.status).toBe(402)
    const decoded = decodeHeader(unpaid.headers.get('payment-required') ?? '', PaymentRequiredSchema)
    if (!decoded.ok) throw new Error('no challenge')
    const bought = await fetch(`${url}/__402x/credits?amount=1`, {
      method: 'POST',
      headers: { 'payment-signature': signedPayment(buyer, decoded.value.accepts[0] as PaymentRequirements) },
    })
    expect(bought.status).toBe(200)
    const { token } = (await bought.json()) as { token: string }
    const route = { pricePerToken: 0.0001, max: 0.01 }
    const proceed = await decide('/api/complete', { authorization: `Bearer ${token}` }, route, 'POST')
    expect(proceed.json.action).toBe('proceed')
    const done = await call('/__402x/finish', { ticket: proceed.json.ticket, status: 200, units: 12 })
    expect(done.json.action).toBe('send')
    const receipt = JSON.parse(done.json.headers['x-402x-receipt'] ?? 'null')
    // 12 tokens at $0.0001: 1200 atomic units captured, the rest of the $0.01 reserve returned.
    expect(receipt).toMatchObject({ reserved: '10000', captured: '1200', returned: '8800' })
    // An SSE body over the maximum: the app must send the cut body with its receipt event.
    const sseRoute = { pricePerToken: 0.0001, max: 0.0005 }
    const stream = await decide('/api/stream', { authorization: `Bearer ${token}` }, sseRoute, 'POST')
    const events = Array.from(
      { length: 8 },
      (_, i) => `data: ${JSON.stringify({ choices: [{ delta: { content: `w${i}` } }] })}\n\n`,
    )
    const cut = await call('/__402x/finish', {
      ticket: stream.json.ticket,
      status: 200,
      body: events.join(''),
      contentType: 'text/event-stream',
    })
    expect(cut.json, JSON.stringify(cut.json)).toMatchObject({ action: 'respond', status: 200 })
    const sent = (cut.json.body ?? '').split('\n\n').filter(Boolean)
    expect(sent.filter((e) => e.startsWith('data: {'))).toHaveLength(5)
    expect(sent.at(-1)).toMatch(/^event: x402-receipt\ndata: /)
    expect(JSON.parse((sent.at(-1) as string).split('data: ')[1] as string)).toMatchObject({ captured: '500' })
    const fixed = await decide('/api/data', { authorization: `Bearer ${token}` })
    expect(fixed.json.action).toBe('proceed')
    const paid = await call('/__402x/finish', { ticket: fixed.json.ticket, status: 200 })
    expect(JSON.parse(paid.json.headers['x-402x-receipt'] ?? 'null')).toMatchObject({ captured: '10000' })
  })
})

describe('who may call it', () => {
  it('asks for the token when one is set', async () => {
    const guarded = createGateway({ ...stack.paywall(), routes: {}, decisions: { token: 's3cret' } })
    const guardedServer = createServer(guarded.listener)
    const guardedUrl = await listen(guardedServer)
    try {
      const body = JSON.stringify({ method: 'GET', url: `${api}/x`, route: { price: 0.01 } })
      const none = await fetch(`${guardedUrl}/__402x/decide`, { method: 'POST', body })
      expect(none.status).toBe(401)
      expect(((await none.json()) as { error: string }).error).toBe('gateway_unauthorized')
      const wrong = await fetch(`${guardedUrl}/__402x/decide`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer nope' },
      })
      expect(wrong.status).toBe(401)
      const right = await fetch(`${guardedUrl}/__402x/decide`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer s3cret' },
      })
      expect(right.status).toBe(200)
    } finally {
      await close(guardedServer)
      await guarded.close()
    }
  })
})
