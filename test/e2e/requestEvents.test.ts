import type { Server } from 'node:http'
import type { PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { plans, type RequestEvent, x402Middleware } from '402x-api'
import { x402Middleware as x402Hono } from '402x-api/hono'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// `request` events, what the dashboard, metrics and logs are fed from: one per matched
// request, with its outcome and the amount charged, on every path a request can take.
let stack: Stack
let server: Server
let url: string
let honoServer: Server
let honoUrl: string
let keyed: ReturnType<typeof x402Middleware>
const events: RequestEvent[] = []
const honoEvents: RequestEvent[] = []

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall({ adminToken: 'admin-secret' })
  const app = express()
  const paywall = x402Middleware({
    ...options,
    routes: {
      'GET /api/data': { price: 0.01 },
      'GET /api/fail': { price: 0.01 },
      'GET /api/limited': { price: 0.01, rateLimit: { maxRequests: 1, windowMs: 60_000, countRejected: true } },
    },
  })
  keyed = x402Middleware({ ...stack.paywall(), price: 0.01, keys: { plans: [plans.free({ quota: { day: 5 } })] } })
  keyed.paywall.events.on('request', (e) => events.push(e))
  app.get('/api/keyed', keyed, (_req, res) => res.json({ data: 'keyed' }))
  const item = x402Middleware({ ...stack.paywall(), price: 0.01 })
  item.paywall.events.on('request', (e) => events.push(e))
  app.get('/api/item/:id', item, (_req, res) => res.json({ data: 'item' }))
  paywall.paywall.events.on('request', (e) => events.push(e))
  app.use(paywall)
  app.get('/api/data', (req, res) => res.json({ data: 'paid', requestId: req.x402?.requestId }))
  app.get('/api/limited', (_req, res) => res.json({ data: 'limited' }))
  app.get('/api/fail', (_req, res) => res.status(500).json({ error: 'broken' }))
  server = createServer(app)
  url = await listen(server)

  const hono = new Hono()
  const honoPaywall = x402Hono({ ...stack.paywall(), price: 0.002 })
  honoPaywall.paywall.events.on('request', (e) => honoEvents.push(e))
  hono.use('/api/hono', honoPaywall)
  hono.get('/api/hono', (c) => c.json({ data: 'hono' }))
  honoServer = createAdaptorServer({ fetch: hono.fetch }) as Server
  honoUrl = await listen(honoServer)
}, 120_000)

afterAll(async () => {
  await close(server)
  await close(honoServer)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }

/** The event of `requestId`, waiting a little: it is told once the answer is decided. */
async function eventOf(list: RequestEvent[], requestId: string): Promise<RequestEvent> {
  for (let i = 0; i < 100; i++) {
    const found = list.find((e) => e.clientRequestId === requestId)
    if (found) return found
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`no request event for ${requestId}: ${JSON.stringify(list.map((e) => e.requestId))}`)
}

const id = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`

describe('request events', () => {
  it('tells an unpaid request as refused payment_required, with the caller’s X-Request-Id', async () => {
    const rid = id('unpaid')
    const res = await fetch(`${url}/api/data`, { headers: { 'x-request-id': rid } })
    expect(res.status).toBe(402)
    const event = await eventOf(events, rid)
    expect(event).toMatchObject({
      method: 'GET',
      route: 'GET /api/data',
      path: '/api/data',
      status: 402,
      outcome: 'refused',
      reason: 'payment_required',
      amount: 0n,
      price: '0.01',
      network: stack.chain.network,
    })
    expect(event.durationMs).toBeGreaterThanOrEqual(0)
    expect(Math.abs(event.at - Date.now())).toBeLessThan(60_000)
  })

  it('tells a paid request with its payer and the amount settled, and the same id in X-402x-Request-Id', async () => {
    const rid = id('paid')
    const unpaid = await fetch(`${url}/api/data`)
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    const paid = await fetch(`${url}/api/data`, {
      headers: { 'x-request-id': rid, 'PAYMENT-SIGNATURE': signedPayment(buyer(0), requirements) },
    })
    expect(paid.status).toBe(200)
    const event = await eventOf(events, rid)
    expect(event).toMatchObject({ status: 200, outcome: 'paid', amount: 10_000n, payer: buyer(0).address })
    // The handler's id is fresh, never the caller's (which it could repeat or forge), and the event's.
    const body = (await paid.json()) as { requestId: string }
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(event.requestId).toBe(body.requestId)
    expect(event.reason).toBeUndefined()
  })

  it('tells a handler’s 500 as error with nothing charged', async () => {
    const rid = id('fail')
    const unpaid = await fetch(`${url}/api/fail`)
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    const res = await fetch(`${url}/api/fail`, {
      headers: { 'x-request-id': rid, 'PAYMENT-SIGNATURE': signedPayment(buyer(1), requirements) },
    })
    expect(res.status).toBe(500)
    expect(await eventOf(events, rid)).toMatchObject({ status: 500, outcome: 'error', amount: 0n })
  })

  it('tells a rate-limited request as refused with the limit’s reason', async () => {
    const first = id('limit1')
    const second = id('limit2')
    await fetch(`${url}/api/limited`, { headers: { 'x-request-id': first } })
    const res = await fetch(`${url}/api/limited`, { headers: { 'x-request-id': second } })
    expect(res.status).toBe(429)
    const event = await eventOf(events, second)
    expect(event).toMatchObject({ status: 429, outcome: 'refused', amount: 0n })
    expect(event.reason).toMatch(/rate_limit/)
  })

  it('tells credit-funded requests, fast path and full path, with the credit drawn', async () => {
    // Buy credit: the top-up itself is a paid request of its own.
    const topUpId = id('topup')
    const unpaid = await fetch(`${url}/__402x/credits?amount=1`, { method: 'POST' })
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    const bought = await fetch(`${url}/__402x/credits?amount=1`, {
      method: 'POST',
      headers: { 'x-request-id': topUpId, 'PAYMENT-SIGNATURE': signedPayment(buyer(2), requirements) },
    })
    expect(bought.status).toBe(200)
    const { token } = (await bought.json()) as { token: string }
    expect(await eventOf(events, topUpId)).toMatchObject({ outcome: 'paid', amount: 1_000_000n, status: 200 })

    const rid = id('credit')
    const res = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': rid } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-402x-receipt')).toBeTruthy()
    const event = await eventOf(events, rid)
    expect(event).toMatchObject({ status: 200, outcome: 'credit', amount: 10_000n, route: 'GET /api/data' })
    expect(event.account).toMatch(/\S/)

    // A handler error on credit: released, told as error with nothing charged.
    const failed = id('credit-fail')
    const bad = await fetch(`${url}/api/fail`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': failed },
    })
    expect(bad.status).toBe(500)
    expect(await eventOf(events, failed)).toMatchObject({ status: 500, outcome: 'error', amount: 0n })
  })

  it('never tells the admin API', async () => {
    const rid = id('admin')
    const res = await fetch(`${url}/__402x/admin/openapi.json`, {
      headers: { authorization: 'Bearer admin-secret', 'x-request-id': rid },
    })
    expect(res.status).toBe(200)
    await new Promise((r) => setTimeout(r, 100))
    expect(events.find((e) => e.clientRequestId === rid)).toBeUndefined()
  })

  it('leaves out a caller’s X-Request-Id that is not safe to log', async () => {
    const before = events.length
    await fetch(`${url}/api/data`, { headers: { 'x-request-id': 'bad id\twith spaces' } })
    await new Promise((r) => setTimeout(r, 100))
    const event = events.slice(before).find((e) => e.path === '/api/data')
    expect(event?.requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(event && 'clientRequestId' in event).toBe(false)
  })

  it('names a per-route paywall’s requests by the framework’s route, not by each path', async () => {
    const a = id('route-a')
    const b = id('route-b')
    await fetch(`${url}/api/item/1`, { headers: { 'x-request-id': a } })
    await fetch(`${url}/api/item/made-up-2`, { headers: { 'x-request-id': b } })
    expect((await eventOf(events, a)).route).toBe('GET /api/item/:id')
    expect((await eventOf(events, b)).route).toBe('GET /api/item/:id')
  })

  it('is told by the Web adapters the same way (Hono: unpaid, then paid)', async () => {
    const rid = id('hono')
    const unpaid = await fetch(`${honoUrl}/api/hono`)
    expect(unpaid.status).toBe(402)
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    const paid = await fetch(`${honoUrl}/api/hono`, {
      headers: { 'x-request-id': rid, 'PAYMENT-SIGNATURE': signedPayment(buyer(3), requirements) },
    })
    expect(paid.status).toBe(200)
    expect(await eventOf(honoEvents, rid)).toMatchObject({ outcome: 'paid', amount: 2_000n, status: 200 })
    expect(honoEvents.some((e) => e.status === 402 && e.outcome === 'refused')).toBe(true)
  })

  it('tells a call on an API key’s plan as key, with the key and plan, nothing charged within the plan', async () => {
    const { key, info } = await (keyed.paywall.keys as NonNullable<typeof keyed.paywall.keys>).create({
      name: 'alice',
      plan: 'free',
    })
    const rid = id('key')
    const res = await fetch(`${url}/api/keyed`, { headers: { 'x-api-key': key, 'x-request-id': rid } })
    expect(res.status).toBe(200)
    expect(await eventOf(events, rid)).toMatchObject({
      outcome: 'key',
      keyId: info.id,
      plan: 'free',
      amount: 0n,
      status: 200,
    })
  })
})
