import type { ChildProcess } from 'node:child_process'
import type { Server } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { createPaywall, type Paywall, x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { x402Middleware as x402Hono } from '402x-api/hono'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveMeter } from '../../packages/api/src/paywall/metering.js'
import { createStreamMeter } from '../../packages/api/src/paywall/streamMeter.js'
import { devFolder, startScript } from '../examples/startExample.js'
import { receiptOf, requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// Prepaid credit at its edges: adapters that bypass the usual path (a hijacked Fastify
// reply, a Hono stream the caller abandons), requests that outlive their reservation, and
// concurrency and input limits of the credit endpoints.
let stack: Stack
let child: ChildProcess | undefined
const servers: Server[] = []
const fixture = join(import.meta.dirname, '..', 'fixtures', 'credits', 'ttl-stream-server.mjs')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  for (const s of servers) await close(s)
  await stack?.stop()
})
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const events = (text: string) => (text.match(/\n\n/g) ?? []).length

/** Polls `read` until it gives `expected` or 2 s pass; resolves with the last value read. */
async function settled<T>(read: () => Promise<T>, expected: T): Promise<T> {
  let value = await read()
  for (let waited = 0; waited < 2000 && JSON.stringify(value) !== JSON.stringify(expected); waited += 20) {
    await sleep(20)
    value = await read()
  }
  return value
}

/** Starts the seller child and resolves with its URL. */
async function startSeller(env: Record<string, string>): Promise<string> {
  const seller = await startScript(fixture, { cwd: devFolder(stack), env })
  child = seller.child
  return seller.url
}

it('Fastify: a metered SSE reply streams as it is produced, billed per event; a caller who leaves pays for what was sent', async () => {
  const options = stack.paywall()
  const app = Fastify()
  await app.register(x402Fastify, {
    ...options,
    routes: { 'GET /stream': { pricePerToken: 0.0001, max: 0.01 } },
  } as never)
  let produced = 0
  app.get('/stream', (request, reply) => {
    const n = Number((request.query as { n?: string }).n ?? 5)
    const events = (async function* () {
      for (let i = 0; i < n; i++) {
        produced = i + 1
        yield `data: ${JSON.stringify({ choices: [{ delta: { content: `w${i}` } }] })}\n\n`
        await sleep(150)
      }
    })()
    return reply.type('text/event-stream').send(Readable.from(events))
  })
  await app.ready()
  servers.push(app.server)
  const url = await listen(app.server)
  const paywall = (app as unknown as { paywall: Paywall }).paywall
  const { token } = await paywall.credits!.grant({ amount: 1, ref: 'fastify-stream' })
  const auth = { authorization: `Bearer ${token}` }

  // The first event arrives while the handler is still producing the rest.
  const answer = await fetch(`${url}/stream?n=5`, { headers: auth })
  expect(answer.status).toBe(200)
  expect(answer.headers.get('x-402x-reserved')).toBe('10000')
  const reader = (answer.body as ReadableStream<Uint8Array>).getReader()
  const first = new TextDecoder().decode((await reader.read()).value)
  expect(first).toContain('w0')
  expect(produced).toBeLessThan(5)
  let rest = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    rest += new TextDecoder().decode(value)
  }
  const receipt = JSON.parse(rest.split('event: x402-receipt\ndata: ')[1] as string)
  expect(receipt).toMatchObject({ reserved: '10000', captured: '500', returned: '9500', balance: '999500' })

  // A caller who leaves after the second event: charged for the events that went out.
  produced = 0
  const abandoned = await fetch(`${url}/stream?n=20`, { headers: auth })
  const r = (abandoned.body as ReadableStream<Uint8Array>).getReader()
  let seen = ''
  while (!seen.includes('w1')) seen += new TextDecoder().decode((await r.read()).value)
  await r.cancel()
  await sleep(400)
  const left = await paywall.credits!.balance(token as string)
  expect(left?.reserved).toBe('0')
  const charged = 999_500 - Math.round(Number(left?.available) * 1_000_000)
  expect(charged).toBeGreaterThanOrEqual(200)
  expect(charged).toBeLessThanOrEqual(produced * 100)
  expect(produced).toBeLessThan(20)
})

it('Fastify: a handler that hijacks the reply is charged at the status its response ended with, and no hold leaks', async () => {
  const options = stack.paywall()
  const app = Fastify()
  await app.register(x402Fastify, { ...options, routes: { 'GET /sse': 0.01, 'GET /sse-fail': 0.01 } } as never)
  let served = 0
  const hijacked = (status: number) => (_request: unknown, reply: import('fastify').FastifyReply) => {
    reply.hijack()
    served++
    reply.raw.writeHead(status, { 'content-type': 'text/event-stream' })
    reply.raw.end(status < 400 ? 'data: hello\n\n' : 'data: failed\n\n')
  }
  app.get('/sse', hijacked(200))
  app.get('/sse-fail', hijacked(500))
  await app.ready()
  servers.push(app.server)
  const url = await listen(app.server)
  const paywall = (app as unknown as { paywall: Paywall }).paywall
  const { token } = await paywall.credits!.grant({ amount: 0.05, ref: 'fastify-hijack' })
  const auth = { authorization: `Bearer ${token}` }
  const shown = async () =>
    (await (await fetch(`${url}/__402x/credits`, { headers: auth })).json()) as {
      balance: { available: string; reserved: string }
      entries: { kind: string; amount: string; note?: string }[]
    }
  const balance = async () => (await shown()).balance

  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/sse`, { headers: auth })).status)
  expect(await settled(balance, { available: '0.02', reserved: '0' })).toEqual({ available: '0.02', reserved: '0' })
  // A hijacked response that ended in a 500 is not charged, and its hold goes back.
  statuses.push((await fetch(`${url}/sse-fail`, { headers: auth })).status)
  expect(await settled(balance, { available: '0.02', reserved: '0' })).toEqual({ available: '0.02', reserved: '0' })
  for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/sse`, { headers: auth })).status)

  expect(statuses).toEqual([200, 200, 200, 500, 200, 200, 402])
  expect(served).toBe(6)
  expect(await settled(balance, { available: '0', reserved: '0' })).toEqual({ available: '0', reserved: '0' })
  // Drawn: $0.01 for each of the 5 served requests, written to the ledger (posted from the
  // tab as one or more `charge` entries, each noting how many charges it covers).
  const { entries } = await shown()
  expect(entries.filter((e) => e.kind === 'grant').map((e) => e.amount)).toEqual(['0.05'])
  const charges = entries.filter((e) => e.kind !== 'grant')
  expect(charges.every((e) => e.kind === 'charge')).toBe(true)
  expect(charges.reduce((sum, e) => sum + Math.round(Number(e.amount) * 1e6), 0)).toBe(50_000)
  expect(charges.reduce((sum, e) => sum + Number.parseInt(e.note ?? '', 10), 0)).toBe(5)
})

describe('a metered request that outlives its reservation TTL', () => {
  it('Node SSE stream: the reservation is kept alive while it runs, the stream is charged tokens × price, the seller stays up', async () => {
    const options = stack.paywall()
    const operator = () => createPaywall({ ...options, price: 0.01 })
    let paywall = operator()
    const { token } = await paywall.credits!.grant({ amount: 1, ref: 'ttl-stream' })
    await paywall.close()

    const url = await startSeller({ LEDGER: options.ledger, TTL_MS: '1500' })
    const response = await fetch(`${url}/api/stream`, { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-402x-reserved')).toBe('10000')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (count: number) => {
      while (events(text) < count) {
        const { value, done } = await reader.read()
        if (done) return
        text += decoder.decode(value, { stream: true })
      }
    }
    // 6 events in, 2.5 s after the reservation: past its TTL. Expiry (what the reconciler
    // runs) leaves it alone, because the running request keeps extending it.
    await readUntil(6)
    expect(events(text)).toBe(6)
    paywall = operator()
    try {
      await paywall.reconcile()
      expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.99', reserved: '0.01' })
    } finally {
      await paywall.close()
    }

    await readUntil(Number.POSITIVE_INFINITY)
    expect(text.match(/"tokens":1/g)).toHaveLength(8)
    const receipt = /event: x402-receipt\ndata: (.*)\n/.exec(text)?.[1]
    expect(JSON.parse(receipt ?? 'null')).toEqual({
      reserved: '10000',
      captured: '800',
      returned: '9200',
      balance: '999200',
      decimals: 6,
      refund: 'credit',
    })
    // Still serving.
    expect(child?.exitCode).toBeNull()
    expect((await fetch(`${url}/api/stream`)).status).toBe(402)
    expect(child?.exitCode).toBeNull()

    paywall = operator()
    try {
      expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.9992', reserved: '0' })
    } finally {
      await paywall.close()
    }
  })

  it.each([1500, 300])(
    'buffered handler past a %i ms TTL: served with a receipt of what it used, nothing left held',
    async (ttl) => {
      const options = stack.paywall()
      const app = express()
      const metered = x402Middleware({
        ...options,
        credits: { reservationTtlMs: ttl },
        pricePerToken: 0.0001,
        max: 0.01,
      })
      let runs = 0
      app.post('/api/complete', metered, async (_req, res) => {
        runs++
        await sleep(2000)
        // Past the TTL: expiry, as the reconciler runs it, must not take the reservation.
        await metered.paywall.reconcile()
        res.json({ tokens: 3 })
      })
      const server = createServer(app)
      servers.push(server)
      const url = await listen(server)
      const { token } = await metered.paywall.credits!.grant({ amount: 1, ref: `ttl-buffered-${ttl}` })
      const answer = await fetch(`${url}/api/complete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(runs).toBe(1)
      expect(answer.status).toBe(200)
      expect(await answer.json()).toEqual({ tokens: 3 })
      expect(receiptOf(answer)).toEqual({
        reserved: '10000',
        captured: '300',
        returned: '9700',
        balance: '999700',
        decimals: 6,
        refund: 'credit',
      })
      expect(await metered.paywall.credits!.balance(token as string)).toEqual({ available: '0.9997', reserved: '0' })
    },
  )
})

describe('stream meter', () => {
  const meter = resolveMeter({ pricePerToken: 0.0001, max: 0.0005 } as never, 't', 6)!
  const make = () => {
    const settles: bigint[] = []
    const m = createStreamMeter({
      meter,
      reserved: 500n,
      decimals: 6,
      startedAt: performance.now(),
      sse: true,
      settle: async (amount, reason) => {
        settles.push(amount)
        return {
          reserved: 500n,
          captured: amount,
          returned: 500n - amount,
          balance: 0n,
          decimals: 6,
          refund: 'credit',
          ...(reason ? { reason } : {}),
        }
      },
    })
    return { m, settles }
  }
  const ev = (s: string) => `data: ${JSON.stringify({ choices: [{ delta: { content: s } }] })}\n\n`
  it('a multi-byte character and an event split across chunks are counted once, bytes intact', async () => {
    const { m, settles } = make()
    const bytes = new TextEncoder().encode(ev('héllo €') + ev('b'))
    let out = new Uint8Array()
    for (let i = 0; i < bytes.length; i += 3) {
      const sent = m.write(bytes.slice(i, i + 3)).send
      if (sent) out = new Uint8Array([...out, ...sent])
    }
    const end = await m.end()
    expect(new TextDecoder().decode(out)).toBe(ev('héllo €') + ev('b'))
    // 'héllo €' is 10 UTF-8 bytes: 3 tokens at 4 bytes a token; 'b' is 1.
    expect(end.receipt.captured).toBe(400n)
    expect(settles).toEqual([400n])
  })
  it('stops at the reserve, drops later writes, charges what was sent', async () => {
    const { m, settles } = make()
    const sent: string[] = []
    for (let i = 0; i < 8; i++) {
      const r = m.write(new TextEncoder().encode(ev(`t${i}`)))
      if (r.send) sent.push(new TextDecoder().decode(r.send))
    }
    const end = await m.end()
    expect(sent).toEqual([0, 1, 2, 3, 4].map((i) => ev(`t${i}`)))
    expect(end.receipt).toMatchObject({ captured: 500n, reason: 'metered_over_max' })
    expect(settles).toEqual([500n])
  })
  it('abandon charges once, whatever comes after', async () => {
    const { m, settles } = make()
    m.write(new TextEncoder().encode(ev('a') + ev('b')))
    await m.abandon()
    expect(m.write(new TextEncoder().encode(ev('c'))).send ?? null).toBeNull()
    await m.abandon()
    const end = await m.end()
    expect(end.receipt.captured).toBe(200n)
    expect(settles).toEqual([200n])
  })
})

describe('credit over HTTP', () => {
  let url: string
  let paywall: ReturnType<typeof x402Middleware>
  let runs = 0
  beforeAll(async () => {
    const app = express()
    paywall = x402Middleware({
      ...stack.paywall(),
      routes: { 'GET /api/m': { pricePerToken: 0.0001, max: 0.001 }, 'GET /api/f': 0.001 },
    })
    app.use(paywall)
    app.get('/api/m', (_req, res) => {
      runs++
      res.json({ tokens: 10 })
    })
    app.get('/api/f', (_req, res) => {
      runs++
      res.json({ ok: 1 })
    })
    const server = createServer(app)
    servers.push(server)
    url = await listen(server)
  })

  it('200 concurrent metered + fixed requests against $0.05: never overdrawn, ledger exact', async () => {
    const { token } = await paywall.paywall.credits!.grant({ amount: 0.05, ref: 'conc' })
    const auth = { authorization: `Bearer ${token}` }
    runs = 0
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fetch(`${url}/api/${i % 2 ? 'm' : 'f'}`, { headers: auth })),
    )
    const ok = answers.filter((a) => a.status === 200).length
    expect(ok).toBe(50)
    expect(runs).toBe(50)
    expect(answers.filter((a) => a.status === 402)).toHaveLength(150)
    expect(await paywall.paywall.credits!.balance(token as string)).toEqual({ available: '0', reserved: '0' })
  })

  it('the same top-up payment sent 5 times at once credits once', async () => {
    const path = `${url}/__402x/credits?amount=1`
    const requirements = requiredOf(await fetch(path, { method: 'POST' })).accepts[0] as PaymentRequirements
    const header = signedPayment(buyer(1), requirements)
    const before = await stack.chain.balanceOf(buyer(1).address)
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([200, 402, 402, 402, 402])
    const tokens = answers.map((a) => a.headers.get('x-402x-credit-token')).filter(Boolean) as string[]
    expect(tokens).toHaveLength(1)
    const again = await fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(again.status).toBe(402)
    expect(await paywall.paywall.credits!.balance(tokens[0] as string)).toEqual({ available: '1', reserved: '0' })
    expect(await stack.chain.balanceOf(buyer(1).address)).toBe(before - 1_000_000n)
  })

  it('HEAD and OPTIONS with a token charge nothing and run nothing', async () => {
    const { token } = await paywall.paywall.credits!.grant({ amount: 0.01, ref: 'head' })
    const auth = { authorization: `Bearer ${token}` }
    runs = 0
    expect((await fetch(`${url}/api/f`, { method: 'HEAD', headers: auth })).status).toBe(402)
    expect((await fetch(`${url}/api/m`, { method: 'HEAD', headers: auth })).status).toBe(402)
    expect((await fetch(`${url}/api/m`, { method: 'OPTIONS', headers: auth })).status).toBe(204)
    expect(runs).toBe(0)
    expect(await paywall.paywall.credits!.balance(token as string)).toEqual({ available: '0.01', reserved: '0' })
  })

  it('top-up amounts: exponent, negative, too many decimals, out of range are refused', async () => {
    for (const a of ['1e2', '-1', '0.0000001', '1000.01', '0x10', ' ', '1,5', 'Infinity', 'NaN']) {
      const r = await fetch(`${url}/__402x/credits?amount=${encodeURIComponent(a)}`, { method: 'POST' })
      expect(r.status, a).toBe(400)
    }
    // The same endpoint takes a valid amount (a 402 to pay it).
    expect((await fetch(`${url}/__402x/credits?amount=1`, { method: 'POST' })).status).toBe(402)
  })
})

it('Hono (Web adapter): an SSE stream the caller abandons is charged only for what was sent', async () => {
  const hono = new Hono()
  const mw = x402Hono({ ...stack.paywall(), pricePerToken: 0.0001, max: 0.01 })
  hono.use('/api/stream', mw)
  let produced = 0
  hono.get('/api/stream', () => {
    const encoder = new TextEncoder()
    let i = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i === 50) return controller.close()
        await sleep(40)
        produced = ++i
        controller.enqueue(encoder.encode(`data: ${JSON.stringify({ tokens: 1, i })}\n\n`))
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  })
  const server = createAdaptorServer({ fetch: hono.fetch }) as Server
  servers.push(server)
  const url = await listen(server)
  const { token } = await mw.paywall.credits!.grant({ amount: 1, ref: 'hono-abandon' })
  const receipt = new Promise<{ captured: bigint; balance: bigint; reason?: string }>((r) =>
    mw.paywall.events.once('receipt', r as never),
  )
  const response = await fetch(`${url}/api/stream`, { headers: { authorization: `Bearer ${token}` } })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  while (events(text) < 3) text += new TextDecoder().decode((await reader.read()).value)
  await reader.cancel()
  const r = await receipt
  expect(r.reason).toBe('abandoned')
  expect(produced).toBeLessThan(50)
  // At least the 3 events the caller read, at most what was produced.
  expect(Number(r.captured)).toBeGreaterThanOrEqual(300)
  expect(Number(r.captured)).toBeLessThanOrEqual(produced * 100)
  expect(r.balance).toBe(1_000_000n - r.captured)
  expect(await mw.paywall.credits!.balance(token as string)).toEqual({
    available: String((1_000_000 - Number(r.captured)) / 1e6),
    reserved: '0',
  })
})
