import { createServer, type Server } from 'node:http'
import { type Paywall, plans, x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { withX402 as withX402Fetch, x402Of } from '402x-api/fetch'
import { x402Middleware as x402Hono } from '402x-api/hono'
import { withX402 as withX402Node } from '402x-api/node'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchServer } from '../helpers/fetchServer.js'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// API keys and plans on every adapter (issue 17): a key's plan on a route that also takes
// x402, a key-only route, quotas (hard stop and billed overage), pay-as-you-go from the
// key's credit, and the key refusals. A real chain and facilitator for the x402 side.
const routes = {
  'GET /mixed': 0.01,
  'GET /keyonly': { price: 0.01, accept: ['key'] },
}
const keys = {
  plans: [
    plans.free({ quota: { day: 2 } }),
    plans.payAsYouGo(),
    plans.tiered({ name: 'pro', monthly: 1, overagePrice: '0.005' }),
    plans.free({ name: 'burst', rateLimits: [{ maxRequests: 1, windowMs: 60_000 }], quota: {} }),
  ],
}

type Running = { url: string; paywall: Paywall; stop(): Promise<void> }
/** What a handler saw: who called (`req.x402` or the adapter's equivalent) and the tracking header. */
const seen = (caller: unknown, header: unknown) => ({ ok: true, caller: caller ?? null, header: header ?? null })
/** The adapters that put the caller in the request's headers (`trackingHeaders: true`). */
const nodeAdapters = new Set(['express', 'node', 'fastify'])

const serve = async (server: Server, paywall: Paywall): Promise<Running> => ({
  url: await listen(server),
  paywall,
  stop: () => close(server),
})

const adapters: { name: string; start(options: Record<string, unknown>): Promise<Running> }[] = [
  {
    name: 'express',
    async start(options) {
      const app = express()
      const middleware = x402Middleware({ ...options, routes, keys } as never)
      app.use(middleware)
      app.get(
        '/{*rest}',
        (req, res) => void res.json(seen((req as { x402?: unknown }).x402, req.headers['x-402x-consumer'])),
      )
      return serve(createServer(app), middleware.paywall)
    },
  },
  {
    name: 'node',
    async start(options) {
      const handler = withX402Node({ ...options, routes, keys } as never, (req, res) =>
        res.end(JSON.stringify(seen((req as { x402?: unknown }).x402, req.headers['x-402x-consumer']))),
      )
      return serve(createServer(handler), handler.paywall)
    },
  },
  {
    name: 'fetch',
    async start(options) {
      const handler = withX402Fetch({ ...options, routes, keys } as never, (request) =>
        Response.json(seen(x402Of(request), request.headers.get('x-402x-consumer'))),
      )
      return serve(fetchServer(handler), handler.paywall)
    },
  },
  {
    name: 'hono',
    async start(options) {
      const app = new Hono()
      const middleware = x402Hono({ ...options, routes, keys } as never)
      app.use('*', middleware)
      app.get('*', (c) => c.json(seen(c.get('x402' as never), c.req.header('x-402x-consumer'))))
      return serve(
        fetchServer((request) => app.fetch(request)),
        middleware.paywall,
      )
    },
  },
  {
    name: 'fastify',
    async start(options) {
      const app = Fastify()
      await app.register(x402Fastify, { ...options, routes, keys } as never)
      app.get('/*', async (request) => seen((request as { x402?: unknown }).x402, request.headers['x-402x-consumer']))
      await app.ready()
      return serve(app.server, (app as unknown as { paywall: Paywall }).paywall)
    },
  },
]

let stack: Stack
beforeAll(async () => {
  stack = await startStack()
}, 60_000)
afterAll(async () => {
  await stack?.stop()
})

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

describe.each(adapters.map((a, i) => [a.name, a, i] as const))('API keys on %s', (_name, adapter, index) => {
  let app: Running
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { headers })
  beforeAll(async () => {
    app = await adapter.start(stack.paywall({ trackingHeaders: true }))
  })
  afterAll(async () => {
    await app?.stop()
  })

  it('refuses a key-only route without a key, and an unknown, revoked or expired key, with its reason', async () => {
    const none = await get('/keyonly')
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({ error: 'invalid_key' })
    const unknown = await get('/keyonly', bearer(`x402_test_${'a'.repeat(32)}`))
    expect(unknown.status).toBe(401)
    expect(await unknown.json()).toMatchObject({ error: 'invalid_key' })
    const malformed = await get('/keyonly', { 'x-api-key': 'not-a-key' })
    expect(malformed.status).toBe(401)
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const revoked = await keys.create({ name: 'revoked', plan: 'free' })
    expect((await get('/keyonly', bearer(revoked.key))).status).toBe(200)
    expect(await keys.revoke(revoked.info.id)).toBe(true)
    const afterRevoke = await get('/keyonly', bearer(revoked.key))
    expect(afterRevoke.status).toBe(401)
    expect(await afterRevoke.json()).toMatchObject({ error: 'key_revoked' })
    const expiring = await keys.create({ name: 'expiring', plan: 'free', expiresAt: Date.now() + 300 })
    await new Promise((resolve) => setTimeout(resolve, 400))
    const expired = await get('/keyonly', { 'x-api-key': expiring.key })
    expect(expired.status).toBe(401)
    expect(await expired.json()).toMatchObject({ error: 'key_expired' })
  })

  it('serves a free key within its quota with nothing paid, then stops hard with quota_exceeded', async () => {
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const { key, info } = await keys.create({ name: 'alice', plan: 'free' })
    expect(key).toMatch(/^x402_test_[A-Za-z0-9]{32}$/)
    const answers = [await get('/mixed', bearer(key)), await get('/mixed', bearer(key))]
    expect(answers.map((r) => r.status)).toEqual([200, 200])
    expect(answers[0]?.headers.get('payment-response')).toBeNull()
    const over = await get('/mixed', bearer(key))
    expect(over.status).toBe(429)
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await over.json()).toMatchObject({
      error: 'quota_exceeded',
      message: expect.stringMatching(/used up until/),
    })
    const usage = await keys.usage(info.id, 0, Date.now() + 1000)
    expect(usage.total).toMatchObject({ calls: 2, units: 2, amount: 0n })
  })

  it("takes a plan's own rate limit by key: 429 rate_limited, never charged", async () => {
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const { key } = await keys.create({ name: 'bursty', plan: 'burst' })
    const other = await keys.create({ name: 'bursty-too', plan: 'burst' })
    expect((await get('/mixed', bearer(key))).status).toBe(200)
    const limited = await get('/mixed', bearer(key))
    expect(limited.status).toBe(429)
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' })
    expect(limited.headers.get('ratelimit-policy')).toMatch(/^"1-in-1min"/)
    // Another key of the plan, from the same address, has its own allowance.
    expect((await get('/mixed', bearer(other.key))).status).toBe(200)
  })

  it('draws a pay-as-you-go key from its own credit: 402 insufficient_credit, then served after a grant', async () => {
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const { key, info } = await keys.create({ name: 'bob', plan: 'pay-as-you-go' })
    const broke = await get('/mixed', bearer(key))
    expect(broke.status).toBe(402)
    expect(await broke.json()).toMatchObject({ error: 'insufficient_credit' })
    await keys.grant(info.id, { amount: 1, ref: `bob-${index}` })
    const paid = await get('/mixed', bearer(key))
    expect(paid.status).toBe(200)
    expect(await keys.balance(info.id)).toMatchObject({ available: '0.99' })
    const usage = await keys.usage(info.id, 0, Date.now() + 1000)
    expect(usage.total).toMatchObject({ calls: 1, amount: 10_000n })
    expect(usage.dollars).toBe('0.01')
  })

  it("bills a tiered key's calls past its allowance at the overage price, from its credit", async () => {
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const { key, info } = await keys.create({ name: 'carol', plan: 'pro' })
    expect((await get('/mixed', bearer(key))).status).toBe(200)
    const overNoCredit = await get('/mixed', bearer(key))
    expect(overNoCredit.status).toBe(402)
    expect(await overNoCredit.json()).toMatchObject({ error: 'insufficient_credit' })
    await keys.grant(info.id, { amount: 0.01, ref: `carol-${index}` })
    expect((await get('/mixed', bearer(key))).status).toBe(200)
    expect(await keys.balance(info.id)).toMatchObject({ available: '0.005' })
    const usage = await keys.usage(info.id, 0, Date.now() + 1000)
    expect(usage.total).toMatchObject({ calls: 2, amount: 5_000n })
  })

  it('tells the handler who called (key, plan, request id, paid), and removes tracking headers a caller sends', async () => {
    const keys = app.paywall.keys as NonNullable<Paywall['keys']>
    const { key, info } = await keys.create({ name: 'dave', plan: 'free' })
    const res = await get('/mixed', { ...bearer(key), 'X-402x-Consumer': 'someone-else', 'X-402x-Plan': 'enterprise' })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { caller: { requestId: string }; header: unknown }
    expect(body.caller).toMatchObject({ kind: 'key', consumer: info.id, plan: 'free', paid: { amount: '0' } })
    expect(body.caller.requestId).toMatch(/^[0-9a-f-]{36}$/)
    // Node adapters write the caller's headers; the others leave them out: never the caller's own.
    expect(body.header).toBe(nodeAdapters.has(adapter.name) ? info.id : null)
  })

  it('lets a caller without a key pay the same route with x402, as before', async () => {
    const challenge = await get('/mixed')
    expect(challenge.status).toBe(402)
    const buyer = stack.chain.buyers[index] as { address: `0x${string}`; privateKey: `0x${string}` }
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const paid = await get('/mixed', {
      'PAYMENT-SIGNATURE': signedPayment(buyer, requiredOf(challenge).accepts[0] as never),
    })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('payment-response')).toBeTruthy()
    const body = (await paid.json()) as { caller: unknown }
    expect(body.caller).toMatchObject({ kind: 'payer', consumer: buyer.address, paid: { amount: '0.01' } })
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 10_000n)
  })
})
