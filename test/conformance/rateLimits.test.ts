import { createServer, type Server } from 'node:http'
import { createSqliteLedger, rateLimit as expressRateLimit, x402Middleware } from '402x-api'
import { rateLimit as fastifyRateLimit, x402Fastify } from '402x-api/fastify'
import { rateLimit as fetchRateLimit, withX402 as withX402Fetch } from '402x-api/fetch'
import { rateLimit as honoRateLimit, x402Middleware as x402Hono } from '402x-api/hono'
import { rateLimit as nodeRateLimit, withX402 as withX402Node } from '402x-api/node'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchServer } from '../helpers/fetchServer.js'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Rate limits on every adapter (issue 17): a priced route's `rateLimit`, and `rateLimit()`
// alone on a free route. A real chain and facilitator: a limited payment is never charged.
const message = 'Too many requests, please slow down'
const routes = {
  // Counts paid calls only (refused ones are given back): 2 a minute.
  'GET /limited': { price: 0.01, rateLimit: { maxRequests: 2, windowMs: 60_000, message } },
  // Counts every call, 402s too.
  'GET /counted': { price: 0.01, rateLimit: { maxRequests: 2, windowMs: 60_000, countRejected: true } },
  'GET /open': 0.01,
}
const freeLimit = { maxRequests: 2, windowMs: 60_000 }

type Running = { url: string; stop(): Promise<void>; ledger: string }
const serve = async (server: Server, ledger: string): Promise<Running> => ({
  url: await listen(server),
  stop: () => close(server),
  ledger,
})

const ok = { ok: true }

const adapters: { name: string; start(options: Record<string, unknown>): Promise<Running> }[] = [
  {
    name: 'express',
    async start(options) {
      const app = express()
      app.get('/free-limited', expressRateLimit(freeLimit), (_req, res) => void res.json(ok))
      app.use(x402Middleware({ ...options, routes }))
      app.get('/{*rest}', (_req, res) => void res.json(ok))
      return serve(createServer(app), options.ledger as string)
    },
  },
  {
    name: 'node',
    async start(options) {
      const free = nodeRateLimit(freeLimit, (_req, res) => res.end(JSON.stringify(ok)))
      const paid = withX402Node({ ...options, routes }, (_req, res) => res.end(JSON.stringify(ok)))
      return serve(
        createServer((req, res) => (req.url?.startsWith('/free-limited') ? free(req, res) : paid(req, res))),
        options.ledger as string,
      )
    },
  },
  {
    name: 'fetch',
    async start(options) {
      const free = fetchRateLimit(freeLimit, () => Response.json(ok))
      const paid = withX402Fetch({ ...options, routes }, () => Response.json(ok))
      return serve(
        fetchServer((request) => (new URL(request.url).pathname === '/free-limited' ? free(request) : paid(request))),
        options.ledger as string,
      )
    },
  },
  {
    name: 'hono',
    async start(options) {
      const app = new Hono()
      app.get('/free-limited', honoRateLimit(freeLimit), (c) => c.json(ok))
      app.use('*', x402Hono({ ...options, routes }))
      app.get('*', (c) => c.json(ok))
      return serve(
        fetchServer((request) => app.fetch(request)),
        options.ledger as string,
      )
    },
  },
  {
    name: 'fastify',
    async start(options) {
      const app = Fastify()
      await app.register(x402Fastify, { ...options, routes } as never)
      app.get('/free-limited', { onRequest: fastifyRateLimit(freeLimit) }, async () => ok)
      app.get('/*', async () => ok)
      await app.ready()
      return serve(app.server, options.ledger as string)
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

const policy = (res: Response) => res.headers.get('ratelimit-policy')
const remaining = (res: Response) => /;\s*r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]

describe.each(adapters.map((a, i) => [a.name, a, i] as const))('rate limits on %s', (_name, adapter, index) => {
  let app: Running
  const buyer = () => stack.chain.buyers[index] as { address: `0x${string}`; privateKey: `0x${string}` }
  beforeAll(async () => {
    app = await adapter.start(stack.paywall())
  })
  afterAll(async () => {
    await app?.stop()
  })

  it('counts every call where asked (countRejected), with the RateLimit headers, then answers 429', async () => {
    const first = await fetch(`${app.url}/counted`)
    expect(first.status).toBe(402)
    expect(policy(first)).toMatch(/^"2-in-1min"; q=2; w=60/)
    expect(remaining(first)).toBe('1')
    const second = await fetch(`${app.url}/counted`)
    expect(second.status).toBe(402)
    expect(remaining(second)).toBe('0')
    const third = await fetch(`${app.url}/counted`)
    expect(third.status).toBe(429)
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(policy(third)).toMatch(/^"2-in-1min"/)
    expect(await third.json()).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' })
  })

  it('never counts a refused call by default; a limited payment is never charged or recorded', async () => {
    for (let i = 0; i < 4; i++) expect((await fetch(`${app.url}/limited`)).status).toBe(402)
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const requirements = requiredOf(await fetch(`${app.url}/limited`)).accepts[0] as never
    // A fresh authorization each time (a new nonce).
    const pay = () =>
      fetch(`${app.url}/limited`, { headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(), requirements) } })
    const paid = [await pay(), await pay()]
    expect(paid.map((r) => r.status)).toEqual([200, 200])
    expect(remaining(paid[1] as Response)).toBe('0')
    const limited = await pay()
    expect(limited.status).toBe(429)
    expect(limited.headers.get('payment-response')).toBeNull()
    expect(await limited.json()).toMatchObject({ error: 'rate_limited', message })
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 20_000n)
    const ledger = createSqliteLedger({ path: app.ledger })
    try {
      const rows = (await ledger.list()).filter((r) => r.resource.endsWith('/limited'))
      expect(rows).toHaveLength(2)
    } finally {
      await ledger.close()
    }
  })

  it('leaves a route without a limit without RateLimit headers', async () => {
    const res = await fetch(`${app.url}/open`)
    expect(res.status).toBe(402)
    expect(policy(res)).toBeNull()
    expect(res.headers.get('ratelimit')).toBeNull()
  })

  it('limits a free route with rateLimit() alone: headers on every answer, then 429', async () => {
    const answers = [await fetch(`${app.url}/free-limited`), await fetch(`${app.url}/free-limited`)]
    expect(answers.map((r) => r.status)).toEqual([200, 200])
    expect(answers.map(remaining)).toEqual(['1', '0'])
    expect(policy(answers[0] as Response)).toMatch(/^"2-in-1min"; q=2; w=60/)
    const third = await fetch(`${app.url}/free-limited`)
    expect(third.status).toBe(429)
    expect(await third.json()).toMatchObject({ error: 'rate_limited' })
  })
})
