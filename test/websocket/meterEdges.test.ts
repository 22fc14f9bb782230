import type { IncomingMessage } from 'node:http'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createX402WebSocket, type X402WebSocketOptions } from '402x-api'
import { describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { signedPayment } from '../helpers/payments.js'
import { chainForTests, connect, creditTools, serveWs, until } from './wsHelpers.js'

// The edges of billing an open WebSocket: every kind of data `ws` sends counted by the bytes
// that go out, a fragmented message billed once, a send `ws` refuses not billed, sends lost
// with the socket never charged (even once their block was captured), and a connect refused
// for want of credit told where and how much to top up, as HTTP's 402 does.
const dev = chainForTests()
const buyer = dev.buyer

async function billed(options: Record<string, unknown>, onConnection: (ws: WebSocket) => void) {
  const base = dev.stack.paywall()
  const paid = createX402WebSocket({ ...base, ...options } as X402WebSocketOptions)
  const receipts: { captured: bigint; account: string }[] = []
  paid.paywall.events.on('receipt', (r) => receipts.push(r))
  const app = await serveWs(paid, base, async (ws, req) => {
    const payment = await paid.verify(req)
    if (payment.verified) onConnection(ws)
  })
  const { service, grant, captured } = creditTools(paid)
  /** A raw client: the bytes of every message it gets. */
  const open = (token: string) =>
    new Promise<{ ws: WebSocket; sizes: number[]; notices: string[]; closed: Promise<number> }>((resolve, reject) => {
      const ws = new WebSocket(`${app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
      const sizes: number[] = []
      const notices: string[] = []
      ws.on('message', (data: Buffer) => {
        const text = data.toString()
        if (text.startsWith('{"type":"x402.')) notices.push(JSON.parse(text).type)
        else sizes.push(data.length)
      })
      const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)))
      ws.on('open', () => resolve({ ws, sizes, notices, closed }))
      ws.on('error', reject)
    })
  return { paid, app, receipts, service, grant, captured, open }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

describe('billing what ws sends', () => {
  it('per KB: every kind of data ws sends is charged by the bytes that went out', async () => {
    const refusedSend: string[] = []
    // $0.001 per 1,000 bytes: one atomic unit per byte.
    const s = await billed({ billing: { perKB: 0.001 } }, (ws) => {
      ws.send('héllo')
      ws.send(new Blob(['héllo wörld']))
      ws.send(new Uint16Array([1, 2, 3, 4]).subarray(1))
      ws.send(new DataView(new ArrayBuffer(16), 4, 7))
      ws.send(new ArrayBuffer(9))
      ws.send(Buffer.from('buffer'))
      // ws sends an array as Buffer.from(array): one byte per element, not the parts joined.
      ws.send([Buffer.from('abc'), Buffer.from('de')])
      ws.send(12345)
      ws.send(null as never)
      try {
        ws.send({} as never)
      } catch (error) {
        refusedSend.push((error as Error).message)
      }
      ws.send('last', () => ws.close(1000, 'done'))
    })
    try {
      const token = await s.grant(0.01)
      const client = await s.open(token)
      expect(await client.closed).toBe(1000)
      expect(client.sizes).toEqual([6, 13, 6, 7, 9, 6, 2, 5, 0, 4])
      expect(refusedSend).toHaveLength(1)
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(BigInt(sum(client.sizes)))
      expect(await s.captured(s.receipts[0]?.account as string)).toBe(BigInt(sum(client.sizes)))
    } finally {
      await s.app.stop()
    }
  })

  it('per message: a message sent in fragments is one message, and a send ws refuses is not billed', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 } }, (ws) => {
      ws.send('a', { fin: false })
      ws.send('b', { fin: false })
      ws.send('c', { fin: true })
      try {
        ws.send({} as never)
      } catch {}
      ws.send('d')
      ws.send('e', () => ws.close(1000, 'done'))
    })
    try {
      const token = await s.grant(0.01)
      const client = await s.open(token)
      expect(await client.closed).toBe(1000)
      expect(client.sizes).toEqual([3, 1, 1])
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(300n)
    } finally {
      await s.app.stop()
    }
  })

  it('a warning due in the middle of a fragmented message waits for its last fragment', async () => {
    // One atomic unit per byte; $0.002 of credit, warned below $0.0015: due after 500 bytes.
    const s = await billed({ billing: { perKB: 0.001 }, warnBelow: 0.0015 }, (ws) => {
      ws.send('x'.repeat(300), { fin: false })
      ws.send('y'.repeat(300), { fin: false })
      ws.send('z'.repeat(300), { fin: true }, () => ws.close(1000, 'done'))
    })
    try {
      const token = await s.grant(0.002)
      const client = await s.open(token)
      expect(await client.closed).toBe(1000)
      expect(client.sizes).toEqual([900])
      expect(client.notices).toEqual(['x402.credit_low'])
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(900n)
    } finally {
      await s.app.stop()
    }
  })

  it('sends lost with the socket are not charged, even once the block they were counted in was captured', async () => {
    // 1,000 bytes reserved at a time, one atomic unit per byte.
    const s = await billed({ billing: { perKB: 0.001 }, reserveUnits: 1 }, (ws) => {
      ws.on('message', (data) => {
        if (String(data) === 'fill') return ws.send('x'.repeat(600))
        // Counted as they are given to ws, which reads a Blob before it writes it: the socket goes first.
        for (let i = 0; i < 3; i++) ws.send(new Blob(['y'.repeat(300)]))
        ws.terminate()
      })
    })
    try {
      const token = await s.grant(0.1)
      const client = await s.open(token)
      client.ws.send('fill')
      await until(() => client.sizes.length === 1)
      const account = (await s.service.accountFor(token)) as string
      // Past half of the first block: the second one is reserved ahead.
      const end = Date.now() + 10_000
      while ((await s.service.balance(account)).reserved < 2_000n && Date.now() < end)
        await new Promise((r) => setTimeout(r, 10))
      expect((await s.service.balance(account)).reserved).toBe(2_000n)
      client.ws.send('burst')
      await client.closed
      await until(() => s.receipts.length === 1)
      // Only the 600 bytes that arrived.
      expect(client.sizes).toEqual([600])
      expect(s.receipts[0]?.captured).toBe(600n)
      expect((await s.captured(account)) - (await refunded(s.service, account))).toBe(600n)
      expect(await s.service.balance(account)).toMatchObject({ available: 100_000n - 600n, reserved: 0n })
    } finally {
      await s.app.stop()
    }
  })
})

/** Credit given back to an account after a capture (`refund` entries). */
async function refunded(
  service: { entries(account: string, limit: number): Promise<{ kind: string; amount: bigint }[]> },
  account: string,
) {
  return (await service.entries(account, 500)).filter((e) => e.kind === 'refund').reduce((n, e) => n + e.amount, 0n)
}

describe('a connect refused for want of credit', () => {
  it('says where and how much to top up, as the HTTP 402 does, and paying its challenge with the token connects', async () => {
    const s = await billed({ billing: { perMessage: 0.0001 }, price: 0.001, deposit: 0.05 }, (ws) => ws.send('hi'))
    try {
      const token = await s.grant(0.0005)
      const broke = await connect(`${s.app.ws}/stream`, { headers: { authorization: `Bearer ${token}` } })
      if (broke.kind !== 'refused') throw new Error('an account without enough credit connected')
      expect(broke.status).toBe(402)
      const body = JSON.parse(broke.body)
      const offer = {
        topUp: `${s.app.http}/__402x/credits`,
        minTopUp: '0.01',
        maxTopUp: '1000',
        suggested: '1',
        balance: '0.0005',
      }
      expect(body).toMatchObject({ error: 'Payment refused', reason: 'insufficient_credit', credits: offer })
      expect(body.message).toMatch(
        /needs at least \$0\.0011 .* has \$0\.0005: top it up with POST http:\/\/.*\?amount=/,
      )
      const challenge = decodeHeader(String(broke.headers['payment-required']), PaymentRequiredSchema)
      if (!challenge.ok) throw new Error('no PAYMENT-REQUIRED')
      expect(challenge.value.error).toBe('insufficient_credit')
      expect(challenge.value.extensions?.['402x-credits']).toMatchObject({ info: offer })
      expect(challenge.value.accepts[0]?.amount).toBe('50000')

      // Doing what it says: the deposit paid with this token tops this account up, and the stream opens.
      const payment = signedPayment(buyer(0), challenge.value.accepts[0] as PaymentRequirements)
      const open = await connect(`${s.app.ws}/stream`, {
        headers: { authorization: `Bearer ${token}`, 'PAYMENT-SIGNATURE': payment },
      })
      if (open.kind !== 'open') throw new Error(`refused: ${open.status} ${open.body}`)
      await until(() => open.got.app().length === 1)
      open.ws.close()
      await until(() => s.receipts.length === 1)
      expect(s.receipts[0]?.captured).toBe(1_100n)
      expect((await s.paid.paywall.credits?.balance(token))?.available).toBe('0.0494')
    } finally {
      await s.app.stop()
    }
  })

  it('the seed path: the refusal message carries the top-up offer', async () => {
    const base = dev.stack.paywall()
    const paid = createX402WebSocket({ ...base, billing: { perMessage: 0.0001 }, price: 0.001 })
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    wss.on('connection', (_ws: WebSocket, req: IncomingMessage) => void paid.verify(req))
    try {
      const { token } = await (paid.paywall.credits as NonNullable<typeof paid.paywall.credits>).grant({
        amount: 0.0005,
        ref: 'ws-seed-broke',
      })
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/feed`
      const open = await connect(url, { headers: { authorization: `Bearer ${token}` } })
      if (open.kind !== 'open') throw new Error('the seed path refuses after the handshake')
      const closed = await open.got.closed
      expect(closed.code).toBe(4402)
      expect(closed.reason).toMatch(/^insufficient_credit/)
      expect(open.got.messages[0]).toMatchObject({
        type: 'x402.payment_required',
        status: 402,
        reason: 'insufficient_credit',
        credits: { topUp: `${url.replace('ws', 'http').replace('/feed', '')}/__402x/credits`, balance: '0.0005' },
      })
    } finally {
      await new Promise((r) => wss.close(r))
      await paid.close()
    }
  })
})
