import { createServer, type Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, SettleResponseSchema } from '@402x/core'
import { createSqliteLedger, x402Middleware } from '402x-api'
import { BudgetExceededError, createX402Client, X402HttpError, x402Client } from '402x-client'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
let server: Server
let url: string
let ledgerPath: string
const payments: unknown[] = []

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  ledgerPath = options.ledger
  const app = express()
  app.use(express.json())
  // The seed's samples, as written.
  app.use('/api/generate', x402Middleware({ ...options, price: 0.01, onPayment: (p) => payments.push(p) }))
  app.post('/api/generate', async (req, res) => {
    res.json({ result: `generated: ${req.body.prompt}` })
  })
  app.post('/api/translate', x402Middleware({ ...options, price: 0.02 }), async (req, res) => {
    res.json({ translation: req.body.text === 'Hello, world!' ? '¡Hola, mundo!' : '?' })
  })
  app.get('/api/broken', x402Middleware({ ...options, price: 0.01 }), () => {
    throw new Error('handler blew up')
  })
  app.get('/api/missing', x402Middleware({ ...options, price: 0.01 }), (_req, res) => {
    res.status(404).json({ error: 'no such thing' })
  })
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i]!
const client = (i = 0) =>
  createX402Client({
    wallet: buyer(i).privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
  })

describe('a paid Express route', () => {
  it('answers 402 with PAYMENT-REQUIRED and a body a person can read', async () => {
    const res = await fetch(`${url}/api/generate`, { method: 'POST' })
    expect(res.status).toBe(402)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('access-control-expose-headers')).toContain('PAYMENT-REQUIRED')
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    expect(required.ok && required.value.accepts[0]).toMatchObject({
      scheme: 'exact',
      network: 'eip155:31337',
      amount: '10000',
      asset: stack.chain.usdc,
      payTo: stack.chain.payTo.address,
      extra: { name: 'USD Coin', version: '2' },
    })
    expect(required.ok && required.value.resource.url).toBe(`${url}/api/generate`)
    const body = await res.json()
    expect(body).toMatchObject({
      error: 'Payment required',
      price: '0.01',
      paymentAddress: stack.chain.payTo.address,
      x402Version: 1,
      accepts: [{ maxAmountRequired: '10000', network: 'localhost' }],
    })
  })

  it('serves the seed client, settles on chain, records the payment and returns a receipt', async () => {
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const buyerBefore = await stack.chain.balanceOf(buyer(0).address)
    const c = client(0)
    const response = await c.post<{ translation: string }>(`${url}/api/translate`, {
      text: 'Hello, world!',
      targetLang: 'es',
    })
    expect(response.data.translation).toBe('¡Hola, mundo!')
    expect(response.receipt).toMatchObject({
      amount: 20000n,
      price: '0.02',
      status: 'settled',
      payTo: stack.chain.payTo.address,
    })
    expect(response.receipt?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    const settle = decodeHeader(response.headers.get('payment-response')!, SettleResponseSchema)
    expect(settle.ok && settle.value).toMatchObject({ success: true, transaction: response.receipt?.transaction })
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 20000n)
    expect(await stack.chain.balanceOf(buyer(0).address)).toBe(buyerBefore - 20000n)
    expect(c.spent()).toBe(20000n)
  })

  it('runs the seed client sample as written, with the wallet and budget from the environment', async () => {
    process.env.X402_PRIVATE_KEY = buyer(5).privateKey
    process.env.X402_MAX_PER_REQUEST = '0.05'
    try {
      const response = await x402Client.post(`${url}/api/translate`, {
        text: 'Hello, world!',
        targetLang: 'es',
      })
      expect((response.data as { translation: string }).translation).toBe('¡Hola, mundo!')
      expect(response.receipt).toMatchObject({ payer: buyer(5).address, amount: 20000n })
      expect(x402Client.spent()).toBe(20000n)
    } finally {
      delete process.env.X402_PRIVATE_KEY
      delete process.env.X402_MAX_PER_REQUEST
    }
  })

  it('fires onPayment and writes the ledger row as settled', async () => {
    const c = client(1)
    const response = await c.post(`${url}/api/generate`, { prompt: 'a cat' })
    expect(response.data).toEqual({ result: 'generated: a cat' })
    expect(payments.at(-1)).toMatchObject({ amount: 10000n, price: '0.01', state: 'settled', payer: buyer(1).address })
    const ledger = createSqliteLedger({ path: ledgerPath })
    try {
      const rows = await ledger.list()
      const row = rows.find((r) => r.transaction === response.receipt?.transaction)
      expect(row).toMatchObject({ state: 'settled', amount: '10000', payer: buyer(1).address.toLowerCase() })
    } finally {
      await ledger.close()
    }
  })

  it('charges nothing when the handler throws or answers 4xx', async () => {
    const before = await stack.chain.balanceOf(buyer(2).address)
    const c = client(2)
    await expect(c.get(`${url}/api/broken`)).rejects.toMatchObject({ response: { status: 500 } })
    await expect(c.get(`${url}/api/missing`)).rejects.toMatchObject({ response: { status: 404 } })
    expect(await stack.chain.balanceOf(buyer(2).address)).toBe(before)
    expect(c.receipts).toHaveLength(0)
  })

  it('serves one signed payment exactly once when it is sent 20 times at once', async () => {
    const first = await fetch(`${url}/api/generate`, { method: 'POST' })
    const required = decodeHeader(first.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no requirements')
    const payment = createPayment({
      privateKey: buyer(3).privateKey,
      from: buyer(3).address,
      requirements: required.value.accepts[0]!,
    })
    const header = encodeHeader(payment)
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${url}/api/generate`, {
          method: 'POST',
          headers: { 'PAYMENT-SIGNATURE': header, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'x' }),
        }),
      ),
    )
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 402)).toHaveLength(19)
    for (const r of responses.filter((r) => r.status === 402)) {
      const body = (await r.json()) as { reason: string }
      expect(['payment_in_flight', 'invalid_exact_evm_nonce_already_used']).toContain(body.reason)
    }
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 10000n)
  })

  it('refuses a malformed header with 400 and a tampered one with 402 and a reason', async () => {
    const bad = await fetch(`${url}/api/generate`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': 'not base64!' } })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ reason: 'invalid_payload' })

    const first = await fetch(`${url}/api/generate`, { method: 'POST' })
    const required = decodeHeader(first.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no requirements')
    const cheap = { ...required.value.accepts[0]!, amount: '1' }
    const payment = createPayment({ privateKey: buyer(4).privateKey, from: buyer(4).address, requirements: cheap })
    const res = await fetch(`${url}/api/generate`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) },
    })
    expect(res.status).toBe(402)
    expect(await res.json()).toMatchObject({ reason: 'payment_requirements_mismatch' })
  })

  it('refuses to pay over budget before signing anything', async () => {
    const c = createX402Client({
      wallet: buyer(5).privateKey,
      budget: { maxPerRequest: 0.015 },
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const error = await c.post(`${url}/api/translate`, { text: 'hi' }).catch((e) => e)
    expect(error).toBeInstanceOf(BudgetExceededError)
    expect(error.limit).toBe('maxPerRequest')
    expect(error.message).toContain('over by $0.005')
    expect(c.spent()).toBe(0n)
    expect(error).not.toBeInstanceOf(X402HttpError)
  })
})
