import { createServer, type Server } from 'node:http'
import { x402Middleware } from '402x-api'
import { createX402Client } from '402x-client'
// The seed's samples are Express 4 code; only the import path differs (`express4` is
// express@4.21 installed under another name, beside Express 5).
import express from 'express4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
let server: Server
let url: string

beforeAll(async () => {
  stack = await startStack()
  const settings = stack.paywall()
  const app = express()
  app.use(express.json())

  // Seed 000, "How 402x APIs Work" and "Integration Examples", as written.
  app.use('/api/generate', x402Middleware({ ...settings, price: 0.01 }))
  app.post('/api/generate', async (req, res) => {
    res.json({ result: `generated: ${req.body.prompt}` })
  })
  app.post('/api/translate', x402Middleware({ ...settings, price: 0.02 }), async (req, res) => {
    res.json({ translation: req.body.text === 'Hello, world!' ? '¡Hola, mundo!' : '?' })
  })
  app.use('/api/premium', x402Middleware({ ...settings, price: 0.01, errors: 'next' }))
  app.get('/api/premium', (_req, res) => {
    res.json({ premium: true })
  })

  // Seed 000, "Error Handling", as written (Express 4 path syntax).
  // biome-ignore lint: the seed's sample, as written (untyped JavaScript, unused parameters).
  app.use('/api/*', (err: any, req: any, res: any, next: any) => {
    if (err.code === 'PAYMENT_REQUIRED') {
      res.status(402).json({
        error: 'Payment required',
        price: err.price,
        paymentAddress: err.address,
      })
    }
  })
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('the seed samples on Express 4', () => {
  it('charges for generate and translate, and pays with the seed client sample', async () => {
    const client = createX402Client({
      wallet: stack.chain.buyers[0]!.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const before = await stack.chain.balanceOf(stack.chain.buyers[0]!.address)
    const response = await client.post(`${url}/api/translate`, { text: 'Hello, world!', targetLang: 'es' })
    expect(response.data.translation).toBe('¡Hola, mundo!')
    const generated = await client.post(`${url}/api/generate`, { prompt: 'a cat' })
    expect(generated.data).toEqual({ result: 'generated: a cat' })
    expect(before - (await stack.chain.balanceOf(stack.chain.buyers[0]!.address))).toBe(30000n)
  })

  it('runs the seed error handler, as written, on a 402', async () => {
    const res = await fetch(`${url}/api/premium`)
    expect(res.status).toBe(402)
    expect(await res.json()).toEqual({
      error: 'Payment required',
      price: '0.01',
      paymentAddress: stack.chain.payTo.address,
    })
    expect(res.headers.get('payment-required')).toBeTruthy()
    const client = createX402Client({
      wallet: stack.chain.buyers[1]!.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const paid = await client.get(`${url}/api/premium`)
    expect(paid.data).toEqual({ premium: true })
  })
})
