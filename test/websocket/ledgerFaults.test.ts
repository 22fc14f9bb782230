import { createX402WebSocket, type WebSocketPayment, type X402WebSocketOptions } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { type Stack, startStack } from '../helpers/stack.js'
import { connect, creditTools, type Opened, serveWs, until } from './wsHelpers.js'

// The credit ledger under an open billed stream: reservations kept alive past their ttl while
// the stream lives, a ledger that fails mid-stream (closed with 4402, no crash, a receipt
// still), receipts that never carry the credential of the query, a deposit too small refused.
let stack: Stack

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  await stack?.stop()
})

type Verified = Extract<WebSocketPayment, { verified: true }>

async function billed(options: Record<string, unknown>, onConnection: (ws: WebSocket) => void) {
  const base = stack.paywall()
  const paid = createX402WebSocket({ ...base, ...options } as X402WebSocketOptions)
  const payments: Verified[] = []
  const receipts: { captured: bigint; resource: string }[] = []
  const errors: unknown[] = []
  paid.paywall.events.on('receipt', (r) => receipts.push(r))
  paid.paywall.events.on('error', (e) => errors.push(e))
  const app = await serveWs(paid, base, async (ws, req) => {
    const payment = await paid.verify(req)
    if (!payment.verified) return
    payments.push(payment)
    onConnection(ws)
  })
  const { credits, service, grant, captured } = creditTools(paid)
  const openWith = async (token: string) => {
    const opened = await connect(`${app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
    if (opened.kind !== 'open') throw new Error(`refused: ${opened.status} ${opened.body}`)
    return opened as Opened
  }
  return { paid, app, payments, receipts, errors, credits, service, grant, captured, openWith }
}

const echo = (ws: WebSocket) => {
  let n = 0
  ws.on('message', () => ws.send(JSON.stringify({ n: n++ })))
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Asks for messages `from` to `to` one at a time, while the stream is open. */
async function pull(ws: WebSocket, got: Opened['got'], from: number, to: number) {
  for (let i = from; i < to && ws.readyState === 1; i++) {
    ws.send('next')
    await until(() => got.app().length > i || ws.readyState !== 1)
  }
}

describe('the credit ledger under an open WebSocket', () => {
  it('keeps its reservation past the ttl while open (the reconciler expires nothing), charges exactly, and receipts show the path only', async () => {
    const s = await billed(
      { billing: { perMessage: 0.0001 }, reserveUnits: 1000, credits: { reservationTtlMs: 300 } },
      echo,
    )
    try {
      const token = await s.grant(0.5)
      const opened = await connect(`${s.app.ws}/stream?x402-token=${token}`)
      if (opened.kind !== 'open') throw new Error(`refused: ${opened.status} ${opened.body}`)
      const { ws, got } = opened as Opened
      const account = s.payments[0]?.account as string
      for (let i = 0; i < 3; i++) {
        ws.send('next')
        await until(() => got.app().length > i)
        // Well past the reservation's ttl, then the reconciler runs: an open stream's hold stays.
        await pause(1_000)
        await s.paid.paywall.reconcile()
        expect((await s.service.balance(account)).reserved).toBeGreaterThan(0n)
      }
      ws.close()
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(300n)
      expect(s.receipts[0]?.resource).toBe('/stream')
      expect(JSON.stringify(s.receipts[0], (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(token)
      expect(await s.captured(account)).toBe(300n)
      expect((await s.service.balance(account)).reserved).toBe(0n)
      expect((await s.credits.balance(token))?.available).toBe('0.4997')
      expect(s.errors).toEqual([])
    } finally {
      await s.app.stop()
    }
  })

  it('a capture that fails under the stream closes it with 4402, reports the error, and still ends with a receipt', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, reserveUnits: 10 }, echo)
    try {
      const { ws, got } = await s.openWith(await s.grant(0.5))
      // Past half of the first block: the next one is reserved ahead.
      await pull(ws, got, 0, 8)
      const meter = s.payments[0]?.meter
      if (!meter) throw new Error('the connection was not metered')
      // The credit store goes away (both owners of the ledger close it): capturing the first block, once used, fails.
      await s.paid.paywall.close()
      await s.app.seller.paywall.close()
      for (let i = 8; i < 15 && ws.readyState === 1; i++) ws.send('next')
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      expect(closed.reason).toMatch(/^credit_unavailable/)
      await meter.closed
      await until(() => s.receipts.length === 1)
      expect(s.errors.length).toBeGreaterThan(0)
    } finally {
      await s.app.stop().catch(() => {})
    }
  })

  it('a next block the credit store cannot reserve closes the stream with credit_unavailable, not insufficient_credit', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, reserveUnits: 10 }, echo)
    try {
      const { ws, got } = await s.openWith(await s.grant(0.5))
      // Below half of the first block: no next one reserved yet.
      await pull(ws, got, 0, 3)
      await s.paid.paywall.close()
      await s.app.seller.paywall.close()
      await pull(ws, got, 3, 15)
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      // The account has credit: the store failed, and the caller is told so.
      expect(closed.reason).toMatch(/^credit_unavailable/)
      expect(got.notices('x402.credit_exhausted')).toEqual([])
      expect(s.errors.length).toBeGreaterThan(0)
    } finally {
      await s.app.stop().catch(() => {})
    }
  })

  it('refuses at start-up a deposit below the connect price and one unit', () => {
    const base = stack.paywall()
    expect(() =>
      createX402WebSocket({ ...base, billing: { perMessage: 0.0001 }, price: 2 } as X402WebSocketOptions),
    ).toThrow(/deposit is \$1, less than the connect price and one message \(\$2\.0001\)/)
    try {
      createX402WebSocket({ ...base, billing: { perMessage: 0.0001 }, price: 2 } as X402WebSocketOptions)
    } catch (error) {
      expect((error as { code?: string }).code).toBe('invalid_config')
    }
  })
})
