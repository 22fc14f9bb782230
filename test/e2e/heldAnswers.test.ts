// Hono on @hono/node-server: a paid answer whose body is already in memory is settled from
// its status and sent with the receipt, without being read back. The handler's own Response
// object is never changed: one object returned for many requests carries no receipt to
// another caller.
import type { Server } from 'node:http'
import { connect } from 'node:net'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { x402Fastify } from '402x-api/fastify'
import { x402Middleware } from '402x-api/hono'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

async function requirementsOf(url: string): Promise<PaymentRequirements> {
  const res = await fetch(url)
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED from ${url}`)
  return decoded.value.accepts[0] as PaymentRequirements
}

describe('Hono: a paid answer held in memory', () => {
  it('is sent with its receipt, and the Response the handler returns for every request stays untouched', async () => {
    const app = new Hono()
    app.use('/paid', x402Middleware({ ...stack.paywall(), price: 0.01 }))
    // One Response object for every request (a cached answer), built after the paywall
    // replaced the global Response with @hono/node-server's lightweight one.
    let shared: Response | undefined
    const answer = () => {
      shared ??= new Response('{"report":"cached"}', { headers: { 'content-type': 'application/json', 'x-mine': '1' } })
      return shared
    }
    app.get('/paid', answer)
    app.get('/free', answer)
    const server = createAdaptorServer({ fetch: app.fetch }) as Server
    const base = await listen(server)
    try {
      const requirements = await requirementsOf(`${base}/paid`)
      const buyer = stack.chain.buyers[0]!
      const before = await stack.chain.balanceOf(stack.chain.payTo.address)
      for (let i = 0; i < 2; i++) {
        const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
        const paid = await fetch(`${base}/paid`, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
        expect(paid.status).toBe(200)
        expect(await paid.text()).toBe('{"report":"cached"}')
        expect(paid.headers.get('x-mine')).toBe('1')
        expect(paid.headers.get('content-type')).toBe('application/json')
        expect(paid.headers.get('payment-response')).toBeTruthy()
        expect(paid.headers.get('cache-control')).toBe('private, no-store')
        // The free route answers with the same object: no receipt, no private cache header.
        const free = await fetch(`${base}/free`)
        expect(free.status).toBe(200)
        expect(await free.text()).toBe('{"report":"cached"}')
        expect(free.headers.get('payment-response')).toBeNull()
        expect(free.headers.get('cache-control')).toBeNull()
      }
      expect(shared?.headers.get('payment-response')).toBeNull()
      expect((await stack.chain.balanceOf(stack.chain.payTo.address)) - before).toBe(20000n)
    } finally {
      await close(server)
    }
  })

  it('a status or headers that cannot be sent are a 500 and charge nothing', async () => {
    const app = new Hono()
    app.use('/paid/*', x402Middleware({ ...stack.paywall(), price: 0.01 }))
    app.get('/paid/status', () => new Response('early', { status: 199 }))
    app.get('/paid/header', () => new Response('bad', { headers: { 'x-bad': 'a\nb' } }))
    const server = createAdaptorServer({ fetch: app.fetch }) as Server
    const base = await listen(server)
    try {
      const buyer = stack.chain.buyers[1]!
      const before = await stack.chain.balanceOf(buyer.address)
      for (const path of ['/paid/status', '/paid/header']) {
        const requirements = await requirementsOf(`${base}${path}`)
        const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
        const res = await fetch(`${base}${path}`, {
          headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) },
          signal: AbortSignal.timeout(10_000),
        })
        expect(res.status).toBe(500)
        expect(res.headers.get('payment-response')).toBeNull()
        expect(await res.json()).toMatchObject({ error: 'internal_error' })
      }
      expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    } finally {
      await close(server)
    }
  })
})

describe('Fastify: a request the core cannot take', () => {
  it('answers TRACE on a priced route with 400, not 500', async () => {
    const app = Fastify()
    await app.register(x402Fastify, { ...stack.paywall(), routes: { '/paid': 0.01 } })
    app.all('/paid', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const { port } = app.server.address() as { port: number }
      // fetch refuses to send TRACE: a raw socket does.
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end('TRACE /paid HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
        })
        let text = ''
        socket.on('data', (chunk) => {
          text += chunk
        })
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
      })
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toContain('invalid_request')
    } finally {
      await app.close()
    }
  })
})
