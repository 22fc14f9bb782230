// Hono on @hono/node-server: a paid answer whose body is already in memory is settled from
// its status and sent with the receipt, without being read back. The handler's own Response
// object is never changed: one object returned for many requests carries no receipt to
// another caller.
import type { Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { x402Middleware } from '402x-api/hono'
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
})
