import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { withX402 as withX402Fetch } from '402x-api/fetch'
import { x402Middleware as x402Hono } from '402x-api/hono'
import { withX402 as withX402Node } from '402x-api/node'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Prices computed from the request (body, params, query, headers) behave the same on every
// adapter: the pricing code reads `req.body`, `req.params` … whatever the framework.
type Req = { body?: { pages?: number }; params: Record<string, string>; query?: Record<string, unknown> }
const routes = {
  'POST /pdf': {
    price: (req: Req) => (req.body?.pages ?? Number.NaN) * 0.01,
    validate: (req: Req) => {
      if (typeof req.body?.pages !== 'number') throw new Error('pages required: send {"pages": n}')
    },
  },
  'GET /quote/:symbol': { price: async (req: Req) => (req.params.symbol === 'BTC' ? 0.02 : 0.01) },
  'GET /limited': { price: 0.01, free: { requests: 1, by: 'key' as const } },
  'GET /count': {
    price: (req: Req) =>
      0.01 * Number(req.query?.n ?? new URL(`http://x${(req as { url?: string }).url}`).searchParams.get('n')),
  },
}

const reply = (path: string, body: unknown) => ({ ok: true, path, body: body ?? null })

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A minimal Node ↔ fetch bridge, as Bun or Deno would provide. */
function serveFetch(handler: (request: Request) => Response | Promise<Response>): Server {
  return createServer(async (req, res) => {
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req)
    const headers = new Headers()
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v)
    const response = await handler(
      new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body ? { body } : {}),
      }),
    )
    res.writeHead(response.status, Object.fromEntries(response.headers))
    res.end(Buffer.from(await response.arrayBuffer()))
  })
}

const adapters: { name: string; start(options: Record<string, unknown>): Promise<Server> }[] = [
  {
    name: 'express',
    async start(options) {
      const app = express()
      app.use(express.json())
      app.use(x402Middleware({ ...options, routes }))
      app.all('/{*rest}', (req, res) => {
        res.json(reply(req.path, req.body))
      })
      return createServer(app)
    },
  },
  {
    name: 'node',
    async start(options) {
      // No body parser: 402x reads the body into req.body for the price, as documented.
      return createServer(
        withX402Node({ ...options, routes }, (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(reply((req.url ?? '/').split('?')[0] as string, req.body)))
        }),
      )
    },
  },
  {
    name: 'fetch',
    async start(options) {
      return serveFetch(
        withX402Fetch({ ...options, routes }, async (request: Request) => {
          // The handler can still read the body the price was computed from.
          const text = await request.text()
          return Response.json(reply(new URL(request.url).pathname, text ? JSON.parse(text) : undefined))
        }),
      )
    },
  },
  {
    name: 'hono',
    async start(options) {
      const app = new Hono()
      app.use('*', x402Hono({ ...options, routes }))
      app.all('*', async (c) => {
        const text = await c.req.text()
        return c.json(reply(c.req.path, text ? JSON.parse(text) : undefined))
      })
      return serveFetch((request) => app.fetch(request))
    },
  },
  {
    name: 'fastify',
    async start(options) {
      const app = Fastify()
      await app.register(x402Fastify, { ...options, routes } as never)
      app.all('/*', async (request) => reply(request.url.split('?')[0] as string, request.body))
      await app.ready()
      return app.server
    },
  },
]

let stack: Stack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe.each(adapters)('$name adapter: prices computed from the request', (adapter) => {
  let server: Server
  let url: string
  beforeAll(async () => {
    server = await adapter.start(stack.paywall())
    url = await listen(server)
  })
  afterAll(async () => {
    await close(server)
  })

  const post = (pages: unknown, extra: Record<string, string> = {}) =>
    fetch(`${url}/pdf`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...extra },
      body: JSON.stringify(pages === undefined ? {} : { pages }),
    })
  const accepts = async (res: Response): Promise<PaymentRequirements> => {
    expect(res.status).toBe(402)
    const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
    if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
    return decoded.value.accepts[0]!
  }

  it('quotes a price from the JSON body, and charges exactly it', async () => {
    const requirements = await accepts(await post(7))
    expect(requirements.amount).toBe('70000')
    const buyer = stack.chain.buyers[0]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await post(7, { 'PAYMENT-SIGNATURE': encodeHeader(payment) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ ok: true, body: { pages: 7 } })
    expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(70000n)
  })

  it('refuses a payment for fewer pages than the body asks for, and charges nothing', async () => {
    const requirements = await accepts(await post(1))
    const buyer = stack.chain.buyers[1]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await post(50, { 'PAYMENT-SIGNATURE': encodeHeader(payment) })
    expect(res.status).toBe(402)
    expect(await res.json()).toMatchObject({ reason: 'price_changed', price: '0.5' })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('answers 400 from validate before asking for payment', async () => {
    const res = await post(undefined)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/^pages required/),
    })
  })

  it('prices from route params', async () => {
    expect((await accepts(await fetch(`${url}/quote/BTC`))).amount).toBe('20000')
    expect((await accepts(await fetch(`${url}/quote/ETH`))).amount).toBe('10000')
  })

  it('refuses a body over 1 MiB on a route priced from the body, before any payment', async () => {
    const res = await fetch(`${url}/pdf`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pages: 1, pad: 'x'.repeat(1024 * 1024) }),
    })
    expect(res.status).toBe(413)
  })

  it('prices a repeated query key from the value the handler reads, or refuses it', async () => {
    const res = await fetch(`${url}/count?n=3&n=1`)
    // Web-style adapters read the first value (as Hono and URLSearchParams.get do); Express
    // reads an array, which is no number: a 400, never the cheaper price.
    if (res.status === 400) return
    expect((await accepts(res)).amount).toBe('30000')
  })

  it('gives one free request per API key, then asks for payment', async () => {
    const key = { 'x-api-key': `k-${adapter.name}` }
    expect((await fetch(`${url}/limited`, { headers: key })).status).toBe(200)
    expect((await fetch(`${url}/limited`, { headers: key })).status).toBe(402)
  })
})

describe('hono on @hono/node-server: the caller’s IP', () => {
  it('gives N free requests per IP, then asks for payment', async () => {
    const app = new Hono()
    app.use(
      '*',
      x402Hono({ ...stack.paywall(), routes: { 'GET /ip-limited': { price: 0.01, free: { requests: 2 } } } }),
    )
    app.get('*', (c) => c.json({ ok: true }))
    const server = createAdaptorServer({ fetch: app.fetch }) as Server
    const url = await listen(server)
    try {
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/ip-limited`)).status)
      expect(statuses).toEqual([200, 200, 402])
    } finally {
      await close(server)
    }
  })
})
