import { spawn } from 'node:child_process'
import type { IncomingMessage } from 'node:http'
import { createX402WebSocket, type WebSocketPayment, type X402WebSocketOptions } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { connect, type Opened, serveWs, until } from './wsHelpers.js'

// Billing an open connection from credit, on real `ws` servers and the local chain: per
// message, per KB, per second; a warning, then a 4402 close; a top-up over HTTP that keeps
// the stream open; a client killed mid-stream charged only for what was sent.
let stack: Stack
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  await stack?.stop()
})

type Verified = Extract<WebSocketPayment, { verified: true }>

/** A billed server; `onConnection` runs for each paid connection. */
async function billed(
  options: Omit<X402WebSocketOptions, keyof ReturnType<Stack['paywall']>>,
  onConnection: (ws: WebSocket, payment: Verified, req: IncomingMessage) => void,
) {
  const base = stack.paywall()
  const paid = createX402WebSocket({ ...base, ...options } as X402WebSocketOptions)
  const payments: Verified[] = []
  const receipts: { captured: bigint; balance: bigint; account: string }[] = []
  paid.paywall.events.on('receipt', (r) => receipts.push(r))
  const app = await serveWs(paid, base, async (ws, req) => {
    const payment = await paid.verify(req)
    if (!payment.verified) return
    payments.push(payment)
    onConnection(ws, payment, req)
  })
  const credits = paid.paywall.credits as NonNullable<typeof paid.paywall.credits>
  const service = (paid.paywall.config.credits as NonNullable<typeof paid.paywall.config.credits>).service
  const grant = async (amount: number) =>
    (await credits.grant({ amount, ref: `grant-${Math.random()}` })).token as string
  const open = async (token: string) => {
    const r = await connect(`${app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
    if (r.kind !== 'open') throw new Error(`refused: ${r.status} ${r.body}`)
    return r as Opened
  }
  const captured = async (account: string) =>
    (await service.entries(account, 500))
      // A capture takes the reservation off hold: the charge goes to revenue, the rest back to the caller.
      .filter((e) => e.kind === 'capture')
      .reduce((sum, e) => sum - e.amount, 0n)
  return { paid, app, payments, receipts, credits, service, grant, open, captured }
}

describe('billing an open WebSocket from credit', () => {
  it('per message: a warning before the credit runs out, then a 4402 close; every message charged', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, warnBelow: 0.002, reserveUnits: 30 }, (ws) => {
      for (let i = 0; i < 150; i++) ws.send(JSON.stringify({ i }))
    })
    try {
      const token = await s.grant(0.01)
      const { got } = await s.open(token)
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      expect(closed.reason).toMatch(/^insufficient_credit/)
      expect(got.app()).toHaveLength(100)
      const types = got.messages.map((m) => (m as { type?: string }).type).filter(Boolean)
      expect(types).toEqual(['x402.credit_low', 'x402.credit_exhausted'])
      const low = got.notices('x402.credit_low')[0] as { remaining: number; topUp: string; unit: string }
      expect(low.unit).toBe('message')
      expect(low.remaining).toBeLessThan(20)
      expect(low.topUp).toBe(`${s.app.http}/__402x/credits`)
      const at = got.messages.findIndex((m) => (m as { type?: string }).type === 'x402.credit_low')
      expect(at).toBeGreaterThan(75)
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(10_000n)
      expect(s.receipts[0]?.balance).toBe(0n)
      expect(await s.captured(s.payments[0]?.account as string)).toBe(10_000n)
      expect((await s.credits.balance(token))?.available).toBe('0')
    } finally {
      await s.app.stop()
    }
  })

  it('per KB: the bytes sent, and a clean close by the server charges only those', async () => {
    const s = await billed({ billing: { perKB: 0.001 } }, (ws) => {
      for (let i = 0; i < 10; i++) ws.send('x'.repeat(500))
      ws.close(1000, 'done')
    })
    try {
      const token = await s.grant(0.01)
      const { got } = await s.open(token)
      expect((await got.closed).code).toBe(1000)
      expect(got.app()).toHaveLength(10)
      await until(() => s.receipts.length === 1)
      // 10 × 500 bytes at $0.001 per 1,000 bytes.
      expect(s.receipts[0]?.captured).toBe(5_000n)
      expect((await s.credits.balance(token))?.available).toBe('0.005')
    } finally {
      await s.app.stop()
    }
  })

  it('per second: charged for the time open, closed with 4402 when the credit is used', async () => {
    const s = await billed({ billing: { perSecond: 0.01 } }, () => {})
    try {
      const token = await s.grant(0.02)
      const { got } = await s.open(token)
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      expect(got.notices('x402.credit_exhausted')).toHaveLength(1)
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(20_000n)
      expect((await s.credits.balance(token))?.available).toBe('0')
    } finally {
      await s.app.stop()
    }
  })

  it('a top-up bought over HTTP while connected keeps the stream open', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, warnBelow: 0.001, reserveUnits: 10 }, (ws) => {
      let n = 0
      ws.on('message', () => ws.send(JSON.stringify({ n: n++ })))
    })
    try {
      const token = await s.grant(0.003)
      const { ws, got } = await s.open(token)
      let toppedUp = false
      for (let i = 0; i < 60; i++) {
        const before = got.app().length
        ws.send('next')
        await until(() => got.app().length > before)
        if (!toppedUp && got.notices('x402.credit_low').length > 0) {
          // Buy $0.01 more for this token's account at /__402x/credits, paid with x402.
          const topUp = `${s.app.http}/__402x/credits?amount=0.01`
          const auth = { authorization: `Bearer ${token}` }
          const first = await fetch(topUp, { method: 'POST', headers: auth })
          expect(first.status).toBe(402)
          const requirements = requiredOf(first).accepts[0] as never
          const paid = await fetch(topUp, {
            method: 'POST',
            headers: { ...auth, 'payment-signature': signedPayment(buyer(0), requirements) },
          })
          expect(paid.status).toBe(200)
          toppedUp = true
        }
      }
      expect(toppedUp).toBe(true)
      expect(got.app()).toHaveLength(60)
      expect(ws.readyState).toBe(1)
      ws.close()
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(6_000n)
      // 0.003 granted + 0.01 bought − 60 messages.
      expect((await s.credits.balance(token))?.available).toBe('0.007')
    } finally {
      await s.app.stop()
    }
  })

  it('a client killed mid-stream is charged only for the messages sent', async () => {
    let sentOk = 0
    let timer: NodeJS.Timeout | undefined
    const s = await billed({ billing: { perMessage: 0.0001 } }, (ws) => {
      timer = setInterval(() => {
        if (ws.readyState !== 1) return clearInterval(timer)
        ws.send(JSON.stringify({ tick: Date.now() }), (error) => {
          if (!error) sentOk++
        })
      }, 2)
    })
    let child: ReturnType<typeof spawn> | undefined
    try {
      const token = await s.grant(1)
      // A separate process, killed with SIGKILL: no close frame, the socket just goes.
      child = spawn(
        process.execPath,
        [
          '-e',
          `const WebSocket = require('ws');
           const ws = new WebSocket(process.argv[1], { headers: { authorization: 'Bearer ' + process.argv[2] } });
           let n = 0; ws.on('message', () => { n++; process.stdout.write(n + '\\n') });`,
          `${s.app.ws}/stream`,
          token,
        ],
        { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
      )
      let received = 0
      child.stdout?.on('data', (chunk: Buffer) => {
        const last = chunk.toString().trim().split('\n').pop()
        received = Math.max(received, Number(last))
      })
      await until(() => received >= 20)
      child.kill('SIGKILL')
      const meter = s.payments[0]?.meter
      if (!meter) throw new Error('the connection was not metered')
      const { charged, balance } = await meter.closed
      // Charged exactly the messages written to the socket, at $0.0001 (100 atomic units) each.
      expect(charged).toBe(BigInt(sentOk) * 100n)
      expect(sentOk).toBeGreaterThanOrEqual(received)
      expect(balance).toBe(1_000_000n - charged)
      expect(await s.captured(s.payments[0]?.account as string)).toBe(charged)
      expect((await s.service.balance(s.payments[0]?.account as string)).reserved).toBe(0n)
    } finally {
      if (timer) clearInterval(timer)
      child?.kill('SIGKILL')
      await s.app.stop()
    }
  })

  it('an exact payment on connect buys the deposit as credit, whose token comes back; a replay and an empty account are refused', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, deposit: 0.05, price: 0.001 }, (ws) => {
      for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ i }))
      ws.close(1000, 'done')
    })
    try {
      const first = await connect(`${s.app.ws}/stream`)
      if (first.kind !== 'refused') throw new Error('an unpaid billed upgrade was accepted')
      expect(first.status).toBe(402)
      const challenge = requiredOf(
        new Response(null, { headers: { 'payment-required': String(first.headers['payment-required']) } }),
      )
      expect(challenge.accepts[0]?.amount).toBe('50000')
      const payment = signedPayment(buyer(1), challenge.accepts[0] as never)
      const open = await connect(`${s.app.ws}/stream`, { headers: { 'PAYMENT-SIGNATURE': payment } })
      if (open.kind !== 'open') throw new Error(`refused: ${open.status} ${open.body}`)
      const token = String(open.headers['x-402x-credit-token'])
      expect(token).toMatch(/^x402c_/)
      expect(open.headers['payment-response']).toBeTruthy()
      expect((await open.got.closed).code).toBe(1000)
      expect(open.got.app()).toHaveLength(5)
      expect(s.payments[0]?.via).toBe('exact')
      await until(() => s.receipts.length === 1)
      // The connect price and 5 messages, from the $0.05 deposit.
      expect(s.receipts[0]?.captured).toBe(1_500n)
      expect((await s.credits.balance(token))?.available).toBe('0.0485')

      const replay = await connect(`${s.app.ws}/stream`, { headers: { 'PAYMENT-SIGNATURE': payment } })
      expect(replay.kind).toBe('refused')

      const empty = await s.grant(0.0005)
      const broke = await connect(`${s.app.ws}/stream`, { headers: { authorization: `Bearer ${empty}` } })
      if (broke.kind !== 'refused') throw new Error('an account without enough credit connected')
      expect(broke.status).toBe(402)
      expect(JSON.parse(broke.body).reason).toBe('insufficient_credit')
      expect(broke.headers['payment-required']).toBeTruthy()
    } finally {
      await s.app.stop()
    }
  })
})
