import { createServer, type Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema } from '@402x/core'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// The seed's replay protection, as written: `verifyNonce: true, nonceExpiry: 60000 // 1 minute`
// (milliseconds), here with 30 s so the quote differs from the 60 s default.
let stack: Stack
let server: Server | undefined
let url: string

beforeAll(async () => {
  stack = await startStack()
  const app = express()
  app.get(
    '/api/seed',
    x402Middleware({ ...stack.paywall(), price: 0.01, verifyNonce: true, nonceExpiry: 60000 }),
    (_req, res) => res.json({ ok: true }),
  )
  app.get(
    '/api/short',
    x402Middleware({ ...stack.paywall(), price: 0.01, verifyNonce: true, nonceExpiry: 30_000 }),
    (_req, res) => res.json({ ok: true }),
  )
  server = createServer(app)
  url = await listen(server)
})
afterAll(async () => {
  try {
    await close(server)
  } finally {
    await stack?.stop()
  }
})

const quote = async (path: string) => {
  const res = await fetch(`${url}${path}`)
  expect(res.status).toBe(402)
  const required = decodeHeader(res.headers.get('payment-required') as string, PaymentRequiredSchema)
  if (!required.ok) throw new Error('no PAYMENT-REQUIRED')
  return required.value.accepts[0] as (typeof required.value.accepts)[0]
}

it('nonceExpiry (ms) is the quoted maxTimeoutSeconds', async () => {
  expect((await quote('/api/seed')).maxTimeoutSeconds).toBe(60)
  expect((await quote('/api/short')).maxTimeoutSeconds).toBe(30)
})

it('a payment signed for that window is served once; its replay is refused and charged nothing', async () => {
  const requirements = await quote('/api/short')
  const buyer = stack.chain.buyers[0] as (typeof stack.chain.buyers)[0]
  const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
  const auth = (payment.payload as { authorization: { validBefore: string } }).authorization
  expect(Number(auth.validBefore) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(30)
  const header = { 'PAYMENT-SIGNATURE': encodeHeader(payment) }
  const before = await stack.chain.balanceOf(stack.chain.payTo.address)

  const paid = await fetch(`${url}/api/short`, { headers: header })
  expect(paid.status).toBe(200)
  expect(await paid.json()).toEqual({ ok: true })

  const replay = await fetch(`${url}/api/short`, { headers: header })
  expect(replay.status).toBe(402)
  expect(((await replay.json()) as { reason: string }).reason).toBe('invalid_exact_evm_nonce_already_used')
  expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 10_000n)
})

it('an authorization valid for longer than nonceExpiry allows is refused, charged nothing', async () => {
  const requirements = await quote('/api/short')
  const buyer = stack.chain.buyers[1] as (typeof stack.chain.buyers)[0]
  // Signed as if the window were an hour: validBefore an hour from now.
  const payment = createPayment({
    privateKey: buyer.privateKey,
    from: buyer.address,
    requirements: { ...requirements, maxTimeoutSeconds: 3600 },
  })
  const signed = { ...payment, accepted: requirements }
  const before = await stack.chain.balanceOf(buyer.address)
  const res = await fetch(`${url}/api/short`, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(signed) } })
  expect(res.status).toBe(402)
  expect(await res.json()).toMatchObject({
    reason: 'invalid_exact_evm_payload_authorization_valid_before',
    message: expect.stringMatching(/longer than this resource accepts \(30 s/),
  })
  expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
})
