import { createServer, type Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
let server: Server | undefined
beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('a payment signed for another EIP-712 domain', () => {
  it('is refused with invalid_exact_evm_eip712_domain_mismatch, charging nothing', async () => {
    const app = express()
    let served = 0
    app.get('/paid', x402Middleware({ ...stack.paywall(), price: 0.01 }), (_req, res) => {
      served++
      res.json({ ok: true })
    })
    server = createServer(app)
    const url = `${await listen(server)}/paid`
    const decoded = decodeHeader((await fetch(url)).headers.get('payment-required') ?? '', PaymentRequiredSchema)
    if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
    const quoted = decoded.value.accepts[0] as PaymentRequirements
    // The payer's wallet thinks the token is named "USDC" (Base Sepolia's name), not "USD Coin".
    const wrong = { ...quoted, extra: { ...quoted.extra, name: 'USDC' } }
    const buyer = stack.chain.buyers[1]!
    const before = await stack.chain.balanceOf(buyer.address)
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: wrong })
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(res.status).toBe(402)
    const body = (await res.json()) as { reason?: string; message?: string }
    expect(body.reason).toBe('invalid_exact_evm_eip712_domain_mismatch')
    expect(body.message).toContain('USDC/2')
    expect(served).toBe(0)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })
})
