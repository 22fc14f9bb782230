import { createX402WebSocket, type X402WebSocketOptions } from '402x-api'
import { BudgetExceededError, createX402Client } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Recorded, record, serveWs, until } from './wsHelpers.js'

// 402x-client's paying WebSocket against real `ws` servers on the local chain: it pays on
// connect within its budget, keeps the token of a deposit, tops up when warned, and refuses
// what a budget would not allow before anything is signed.
let stack: Stack
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  await stack?.stop()
})

async function server(options: Omit<X402WebSocketOptions, keyof ReturnType<Stack['paywall']>>) {
  const base = stack.paywall()
  const paid = createX402WebSocket({ ...base, ...options } as X402WebSocketOptions)
  const app = await serveWs(paid, base, async (ws, req) => {
    const payment = await paid.verify(req)
    if (!payment.verified) return
    let n = 0
    ws.send(JSON.stringify({ hello: payment.via }))
    ws.on('message', () => ws.send(JSON.stringify({ n: n++ })))
  })
  return { paid, app }
}
const client = (i: number, budget: Record<string, number>, extra: Record<string, unknown> = {}) =>
  createX402Client({
    wallet: buyer(i).privateKey,
    budget,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    ...extra,
  })

/** Asks for `count` messages one at a time; `pause` runs after each. */
async function pull(ws: WebSocket, got: Recorded, count: number, pause?: () => Promise<void>) {
  for (let i = 0; i < count && ws.readyState === 1; i++) {
    const before = got.app().length
    ws.send('next')
    await until(() => got.app().length > before || ws.readyState !== 1)
    await pause?.()
  }
}

describe('client.websocket', () => {
  it('pays on connect within the budget, and refuses one the budget does not allow', async () => {
    const { paid, app } = await server({ price: 0.01 })
    try {
      const buyerClient = client(0, { maxPerRequest: 0.05, maxTotal: 1 })
      const ws = await buyerClient.websocket(`${app.ws}/feed`, { WebSocket })
      const got = record(ws)
      await until(() => got.app().length === 1)
      expect(got.app()[0]).toEqual({ hello: 'exact' })
      expect(buyerClient.receipts).toHaveLength(1)
      expect(buyerClient.spent()).toBe(10_000n)
      ws.close()

      const stingy = client(1, { maxPerRequest: 0.005 })
      await expect(stingy.websocket(`${app.ws}/feed`, { WebSocket })).rejects.toBeInstanceOf(BudgetExceededError)
      const perHost = client(2, { maxPerRequest: 0.05, maxPerHost: 0.015 })
      ;(await perHost.websocket(`${app.ws}/feed`, { WebSocket, via: 'query' })).close()
      await expect(perHost.websocket(`${app.ws}/feed`, { WebSocket })).rejects.toThrow(/maxPerHost/)
      expect(stingy.receipts).toHaveLength(0)
      const rows = await paid.paywall.config.ledger.listByState(['settled'])
      expect(rows.map((r) => r.payer.toLowerCase()).sort()).toEqual(
        [buyer(0).address, buyer(2).address].map((a) => a.toLowerCase()).sort(),
      )
    } finally {
      await app.stop()
    }
  })

  it('buys the deposit of a billed stream, tops up when warned, and connects again with its token', async () => {
    const { app } = await server({
      billing: { perMessage: 0.0001 },
      deposit: 0.01,
      warnBelow: 0.003,
      reserveUnits: 10,
    })
    try {
      const buyerClient = client(3, { maxPerRequest: 0.05, maxTotal: 1 })
      const ws = await buyerClient.websocket(`${app.ws}/feed`, { WebSocket, via: 'subprotocol', topUp: 0.01 })
      expect(ws.protocol).toBe('x402')
      const token = buyerClient.credits[app.http]?.token
      expect(token).toMatch(/^x402c_/)
      const got = record(ws)
      // Paced by the test: each message waits for a top-up under way (its credit lands first).
      await pull(ws, got, 150, async () => {
        if (got.notices('x402.credit_low').length > 0) await until(() => buyerClient.receipts.length === 2)
      })
      expect(got.notices('x402.credit_low').length).toBeGreaterThanOrEqual(1)
      expect(buyerClient.receipts.map((r) => r.topUp ?? false)).toEqual([false, true])
      expect(got.app().length).toBe(151)
      expect(ws.readyState).toBe(1)
      ws.close()
      // Again, with the token it kept: no new payment.
      const again = await buyerClient.websocket(`${app.ws}/feed`, { WebSocket })
      const second = record(again)
      await until(() => second.app().length === 1)
      expect(second.app()[0]).toEqual({ hello: 'credit' })
      expect(buyerClient.receipts).toHaveLength(2)
      again.close()
    } finally {
      await app.stop()
    }
  })

  it('does not top up past the budget: the stream ends with 4402 when the credit is out', async () => {
    const { app } = await server({ billing: { perMessage: 0.0001 }, deposit: 0.01, warnBelow: 0.003, reserveUnits: 10 })
    try {
      const errors: unknown[] = []
      const buyerClient = client(4, { maxPerRequest: 0.05, maxTotal: 0.015 })
      const ws = await buyerClient.websocket(`${app.ws}/feed`, {
        WebSocket,
        topUp: 0.01,
        onTopUpError: (e) => errors.push(e),
      })
      const got = record(ws)
      await pull(ws, got, 150)
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      expect(errors[0]).toBeInstanceOf(BudgetExceededError)
      // The deposit's 100 messages and the greeting, no more.
      expect(got.app().length).toBe(100)
      expect(buyerClient.spent()).toBe(10_000n)
    } finally {
      await app.stop()
    }
  })
})
