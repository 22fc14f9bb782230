import { createX402WebSocket, type X402WebSocketOptions } from '402x-api'
import { describe, expect, it } from 'vitest'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { chainForTests, connect, type Opened, serveWs, until } from './wsHelpers.js'

// `close()` of a WebSocket paywall with billed streams open: it stops accepting, closes each
// billed socket with 1001 and a reason, writes its final charge, and only then closes the
// ledger and the credit store. A connect paid as it closes is undone before the stores close.
const dev = chainForTests()
const buyer = dev.buyer

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('closing a WebSocket paywall with streams open', () => {
  it('closes billed sockets with 1001, writes their final charges, then closes the stores; later upgrades get 503', async () => {
    const base = dev.stack.paywall()
    const options = { ...base, billing: { perMessage: 0.0001 } } as X402WebSocketOptions
    const paid = createX402WebSocket(options)
    const timers: NodeJS.Timeout[] = []
    const accounts: string[] = []
    const app = await serveWs(paid, base, async (ws, req) => {
      const payment = await paid.verify(req)
      if (!payment.verified) return
      accounts.push(payment.account as string)
      // A stream that never stops by itself.
      timers.push(setInterval(() => ws.readyState === 1 && ws.send('tick'), 1))
    })
    const receipts: { captured: bigint }[] = []
    paid.paywall.events.on('receipt', (r) => receipts.push(r))
    const reader = createX402WebSocket(options)
    try {
      const { token } = await (paid.paywall.credits as NonNullable<typeof paid.paywall.credits>).grant({
        amount: 0.5,
        ref: 'ws-shutdown',
      })
      const streams: Opened[] = []
      for (let i = 0; i < 2; i++) {
        const open = await connect(`${app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
        if (open.kind !== 'open') throw new Error(`refused: ${open.status} ${open.body}`)
        streams.push(open)
      }
      await until(() => streams.every((s) => s.got.app().length >= 20))

      await paid.close()
      // Written before close() resolved: one receipt per stream.
      expect(receipts).toHaveLength(2)
      let total = 0n
      for (const [i, stream] of streams.entries()) {
        const closed = await Promise.race([stream.got.closed, pause(5_000).then(() => undefined)])
        expect(closed?.code).toBe(1001)
        expect(closed?.reason).toMatch(/^going_away: the server is shutting down/)
        // Charged exactly the messages that reached the caller, at $0.0001 each.
        const delivered = BigInt(stream.got.app().length)
        expect(receipts.map((r) => r.captured)).toContain(delivered * 100n)
        total += delivered * 100n
        expect(accounts[i]).toBe(accounts[0])
      }
      // The ledger, opened again: every charge written, nothing left on hold.
      const service = (reader.paywall.config.credits as NonNullable<typeof reader.paywall.config.credits>).service
      const account = accounts[0] as string
      expect(await service.balance(account)).toMatchObject({ available: 500_000n - total, reserved: 0n })
      const captured = (await service.entries(account, 500))
        .filter((e) => e.kind === 'capture')
        .reduce((sum, e) => sum - e.amount, 0n)
      expect(captured).toBe(total)

      // It stopped accepting: an upgrade now is refused before the handshake.
      const late = await connect(`${app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
      expect(late.kind === 'refused' && late.status).toBe(503)
    } finally {
      for (const t of timers) clearInterval(t)
      await app.stop()
      await reader.close()
    }
  })

  it('a connect paid while it closes is refused and its payment flagged undelivered before the ledger closes', async () => {
    const base = dev.stack.paywall()
    const paid = createX402WebSocket({ ...base, price: 0.01 })
    const app = await serveWs(paid, base, () => {})
    const reader = createX402WebSocket({ ...base, price: 0.01 })
    let closing: Promise<void> | undefined
    // The server shuts down while this upgrade's payment settles.
    paid.paywall.events.on('verified', () => {
      closing = paid.close()
    })
    try {
      const first = await connect(`${app.ws}/stream`)
      if (first.kind !== 'refused') throw new Error('an unpaid upgrade was accepted')
      const required = requiredOf(
        new Response(null, { headers: { 'payment-required': String(first.headers['payment-required']) } }),
      )
      const answer = await connect(`${app.ws}/stream`, {
        headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(0), required.accepts[0] as never) },
      })
      expect(answer.kind === 'refused' && answer.status).toBe(503)
      await closing
      const rows = await reader.paywall.config.ledger.listByState(['settled'])
      expect(rows).toHaveLength(1)
      expect(rows[0]?.undelivered).toBe(true)
    } finally {
      await app.stop()
      await reader.close()
    }
  })
})
