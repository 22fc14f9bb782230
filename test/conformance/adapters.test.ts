import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, SettleResponseSchema } from '@402x/core'
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

// One table of scenarios, run against every adapter.
const routes = {
  'GET /paid': 0.01,
  'GET /paid-error': 0.01,
  'GET /paid-404': 0.01,
  'POST /paid-large': 0.01,
  'GET /items/:id': 0.01,
}

type Adapter = { name: string; start(options: Record<string, unknown>): Promise<Server> }

/** The same application logic, routed by hand for the adapters that have no router. */
async function answer(method: string, path: string, body: () => Promise<Buffer>) {
  if (path === '/free' || path === '/paid' || path.startsWith('/items/'))
    return { status: 200, json: { ok: true, path } }
  if (path === '/paid-error') throw new Error('handler blew up')
  if (path === '/paid-404') return { status: 404, json: { error: 'no such thing' } }
  if (method === 'POST' && path === '/paid-large') return { status: 200, json: { bytes: (await body()).length } }
  return { status: 404, json: { error: 'not found' } }
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const adapters: Adapter[] = [
  {
    name: 'express',
    async start(options) {
      const app = express()
      app.use(x402Middleware({ ...options, routes }))
      app.all('/{*rest}', async (req, res) => {
        const out = await answer(req.method, req.path, () => readBody(req))
        res.status(out.status).json(out.json)
      })
      return createServer(app)
    },
  },
  {
    name: 'node',
    async start(options) {
      return createServer(
        withX402Node({ ...options, routes }, async (req: IncomingMessage, res: ServerResponse) => {
          const out = await answer(req.method ?? 'GET', (req.url ?? '/').split('?')[0] as string, () => readBody(req))
          res.writeHead(out.status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(out.json))
        }),
      )
    },
  },
  {
    name: 'fetch',
    async start(options) {
      return serveFetch(
        withX402Fetch({ ...options, routes }, async (request: Request) => {
          const out = await answer(request.method, new URL(request.url).pathname, async () =>
            Buffer.from(await request.arrayBuffer()),
          )
          return Response.json(out.json, { status: out.status })
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
        const out = await answer(c.req.method, c.req.path, async () => Buffer.from(await c.req.arrayBuffer()))
        return c.json(out.json, out.status as 200)
      })
      return serveFetch((request) => app.fetch(request))
    },
  },
  {
    name: 'fastify',
    async start(options) {
      const app = Fastify({ bodyLimit: 4 * 1024 * 1024 })
      app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
      await app.register(x402Fastify, { ...options, routes } as never)
      app.all('/*', async (request, reply) => {
        const path = request.url.split('?')[0] as string
        const out = await answer(request.method, path, async () => (request.body as Buffer) ?? Buffer.alloc(0))
        return reply.code(out.status).send(out.json)
      })
      await app.ready()
      return app.server
    },
  },
]

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
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(await response.arrayBuffer()))
  })
}

let stack: Stack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe.each(adapters)('$name adapter', (adapter) => {
  let server: Server
  let url: string
  let buyerIndex = 0
  beforeAll(async () => {
    server = await adapter.start(stack.paywall())
    url = await listen(server)
  })
  afterAll(async () => {
    await close(server)
  })

  const requirements = async (path: string, method = 'GET') => {
    const res = await fetch(`${url}${path}`, { method })
    expect(res.status).toBe(402)
    const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
    if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
    return decoded.value.accepts[0]!
  }
  const paymentFor = async (path: string, method = 'GET') => {
    const buyer = stack.chain.buyers[buyerIndex++ % stack.chain.buyers.length]!
    const payment = createPayment({
      privateKey: buyer.privateKey,
      from: buyer.address,
      requirements: await requirements(path, method),
    })
    return { buyer, header: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } }
  }

  it('serves a free route without asking for payment', async () => {
    const res = await fetch(`${url}/free`)
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeNull()
  })

  it('answers 402 with PAYMENT-REQUIRED to an unpaid request', async () => {
    const res = await fetch(`${url}/paid`)
    expect(res.status).toBe(402)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect((await res.json()) as object).toMatchObject({ error: 'Payment required', price: '0.01' })
  })

  it('serves a paid request, settles on chain and returns PAYMENT-RESPONSE', async () => {
    const { buyer, header } = await paymentFor('/paid')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/paid`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/paid' })
    const settle = decodeHeader(res.headers.get('payment-response') ?? '', SettleResponseSchema)
    expect(settle.ok && settle.value.success).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it.each([
    ['/paid-error', 500],
    ['/paid-404', 404],
  ])('charges nothing when %s answers %i', async (path, status) => {
    const { buyer, header } = await paymentFor(path)
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}${path}`, { headers: header })
    expect(res.status).toBe(status)
    expect(res.headers.get('payment-response')).toBeNull()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('refuses a malformed payment header with 400 and a reason', async () => {
    const res = await fetch(`${url}/paid`, { headers: { 'PAYMENT-SIGNATURE': '%%%' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ reason: 'invalid_payload' })
  })

  it('serves a replayed signature once', async () => {
    const { buyer, header } = await paymentFor('/paid')
    const before = await stack.chain.balanceOf(buyer.address)
    expect((await fetch(`${url}/paid`, { headers: header })).status).toBe(200)
    const replay = await fetch(`${url}/paid`, { headers: header })
    expect(replay.status).toBe(402)
    expect(await replay.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it('passes a large request body to a paid handler', async () => {
    const { header } = await paymentFor('/paid-large', 'POST')
    const body = Buffer.alloc(1024 * 1024, 7)
    const res = await fetch(`${url}/paid-large`, {
      method: 'POST',
      headers: { ...header, 'content-type': 'application/octet-stream' },
      body,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ bytes: body.length })
  })

  it('never charges HEAD or an OPTIONS preflight', async () => {
    const head = await fetch(`${url}/paid`, { method: 'HEAD' })
    expect(head.status).toBe(402)
    const preflight = await fetch(`${url}/paid`, { method: 'OPTIONS' })
    expect(preflight.status).not.toBe(402)
    expect(preflight.headers.get('payment-response')).toBeNull()
  })

  it('prices route patterns with params', async () => {
    expect((await fetch(`${url}/items/42`)).status).toBe(402)
  })

  it.each(['/PAID', '/paid/', '//paid', '/%70aid', '/free/../paid', '/paid?x=1'])(
    'does not let %s slip past the price',
    async (path) => {
      const res = await fetch(`${url}${path}`)
      // Either priced (402) or not served at all; never the paid content for free.
      expect(res.status === 402 || res.status === 404).toBe(true)
      if (res.status === 404) expect(await res.text()).not.toContain('"ok":true')
    },
  )
})
