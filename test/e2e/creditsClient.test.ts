import type { Server } from 'node:http'
import { x402Middleware } from '402x-api'
import { type CreateX402ClientOptions, createX402Client } from '402x-client'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// 402x-client's prepaid credit against the real paywall and a real chain: one top-up paid
// with x402, then bearer draw-down with no chain work; a metered payment's remainder kept.
let stack: Stack
let server: Server
let url: string

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  const app = express()
  app.use(express.json())
  // One paywall with a routes table: it also serves /__402x/credits.
  app.use(x402Middleware({ ...options, routes: { 'GET /api/data': { price: 0.01 } } }))
  app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
  app.post('/api/complete', x402Middleware({ ...options, pricePerToken: 0.001, max: 0.05 }), (req, res) => {
    const words = String(req.body.prompt).split(' ')
    res.json({ text: words.join(' '), tokens: words.length })
  })
  server = createServer(app)
  url = await listen(server)
}, 120_000)

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const clientOf = (i: number, extra: Partial<CreateX402ClientOptions>) =>
  createX402Client({
    wallet: buyer(i).privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    budget: { maxPerRequest: 1, maxTotal: 5 },
    ...extra,
  })

describe('402x-client with prepaid credit', () => {
  it('buys credit once on chain and spends it with the token for the next requests', async () => {
    const tokens: string[] = []
    const client = clientOf(1, { credits: { topUp: 1, onToken: (_, token) => tokens.push(token) } })
    const buyerBefore = await stack.chain.balanceOf(buyer(1).address)
    const sellerBefore = await stack.chain.balanceOf(stack.chain.payTo.address)
    for (let i = 0; i < 3; i++) {
      const answer = await client.get(`${url}/api/data`)
      expect(answer.data).toEqual({ data: 'paid' })
      expect(answer.credit).toMatchObject({ captured: 10_000n, decimals: 6 })
    }
    expect(client.receipts).toHaveLength(1)
    expect(client.receipts[0]).toMatchObject({ amount: 1_000_000n, topUp: true, status: 'settled' })
    expect(client.spent()).toBe(1_000_000n)
    expect(await stack.chain.balanceOf(buyer(1).address)).toBe(buyerBefore - 1_000_000n)
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(sellerBefore + 1_000_000n)
    expect(tokens).toEqual([expect.stringMatching(/^x402c_/)])
    expect(client.credits[url]).toMatchObject({ token: tokens[0], balance: '0.97' })
    const shown = await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${tokens[0]}` } })
    expect(((await shown.json()) as { balance: { available: string } }).balance.available).toBe('0.97')
  })

  it('tops up the same account when the balance runs out', async () => {
    const tokens: string[] = []
    const client = clientOf(2, { credits: { topUp: 0.02, onToken: (_, token) => tokens.push(token) } })
    for (let i = 0; i < 3; i++) expect((await client.get(`${url}/api/data`)).status).toBe(200)
    expect(client.receipts.map((r) => [r.amount, r.topUp])).toEqual([
      [20_000n, true],
      [20_000n, true],
    ])
    expect(tokens).toHaveLength(1)
    expect(client.credits[url]?.balance).toBe('0.01')
  })

  it('keeps the credit token a metered payment opens for its remainder, and spends it next time', async () => {
    const client = clientOf(3, {})
    const first = await client.post(`${url}/api/complete`, { prompt: 'one two three' })
    expect(first.receipt?.amount).toBe(50_000n)
    expect(first.credit).toMatchObject({ reserved: 50_000n, captured: 3_000n, returned: 47_000n, balance: 47_000n })
    expect(client.credits[url]?.token).toMatch(/^x402c_/)
    expect(client.credits[url]?.balance).toBe('0.047')
    // Not enough for the next reservation ($0.05): paid again, and the remainder lands in the same account.
    const second = await client.post(`${url}/api/complete`, { prompt: 'four five' })
    expect(second.receipt?.amount).toBe(50_000n)
    expect(client.credits[url]?.balance).toBe('0.095')
    const third = await client.post(`${url}/api/complete`, { prompt: 'six' })
    expect(third.receipt).toBeUndefined()
    expect(third.credit).toMatchObject({ captured: 1_000n, balance: 94_000n })
    expect(client.receipts).toHaveLength(2)
  })
})
