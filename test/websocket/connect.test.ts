import type { IncomingMessage } from 'node:http'
import { decodeHeader, PaymentRequiredSchema, SettleResponseSchema } from '@402x/core'
import { createX402WebSocket, x402WebSocket } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'
import { signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { connect, type Opened, type Refused, serveWs, until } from './wsHelpers.js'

// Pay on connect, on real `ws` servers and the local chain: the 402 before the handshake,
// exact payments and credit tokens in a header, a subprotocol or the query, replays refused,
// and the seed's in-connection path.
let stack: Stack
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const b64url = (header: string) => header.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  await stack?.stop()
})

const refused = (r: Opened | Refused): Refused => {
  if (r.kind !== 'refused') throw new Error('the upgrade was accepted')
  return r
}
const opened = (r: Opened | Refused): Opened => {
  if (r.kind !== 'open') throw new Error(`the upgrade was refused: ${r.status} ${r.body}`)
  return r
}
const challengeOf = (r: Refused) => {
  const decoded = decodeHeader(String(r.headers['payment-required']), PaymentRequiredSchema)
  if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
  return decoded.value
}

describe('a WebSocket priced to connect', () => {
  it('answers 402 before the handshake, takes an exact payment in a header, a subprotocol or the query, and refuses a replay', async () => {
    const options = stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const served: string[] = []
    const app = await serveWs(paid, options, async (ws, req) => {
      const payment = await paid.verify(req)
      if (payment.verified) {
        served.push(payment.via)
        ws.send(JSON.stringify({ hello: payment.payer }))
      }
    })
    try {
      const first = refused(await connect(`${app.ws}/stream`))
      expect(first.status).toBe(402)
      const challenge = challengeOf(first)
      expect(challenge.accepts[0]?.amount).toBe('10000')
      expect(JSON.parse(first.body).price).toBe('0.01')
      const requirements = challenge.accepts[0] as NonNullable<(typeof challenge.accepts)[0]>

      // Header.
      const header = signedPayment(buyer(0), requirements)
      const byHeader = opened(await connect(`${app.ws}/stream`, { headers: { 'PAYMENT-SIGNATURE': header } }))
      const settle = decodeHeader(String(byHeader.headers['payment-response']), SettleResponseSchema)
      expect(settle.ok && settle.value.success).toBe(true)
      const got = byHeader.got
      await until(() => got.messages.length === 1)
      expect(got.messages[0]).toEqual({ hello: buyer(0).address })
      byHeader.ws.close()

      // The same payment again: refused before the handshake, nothing served.
      const replay = refused(await connect(`${app.ws}/stream`, { headers: { 'PAYMENT-SIGNATURE': header } }))
      expect(replay.status).toBeGreaterThanOrEqual(400)
      expect(replay.status).not.toBe(503)

      // Subprotocol (browsers): the payment as x402-payment.<base64url>, `x402` echoed.
      const sub = opened(
        await connect(`${app.ws}/stream`, {
          protocols: ['x402', `x402-payment.${b64url(signedPayment(buyer(1), requirements))}`],
        }),
      )
      expect(sub.protocol).toBe('x402')
      expect(sub.headers['payment-response']).toBeTruthy()
      sub.ws.close()

      // Query (clients that can set neither).
      const query = opened(
        await connect(`${app.ws}/stream?x402-payment=${b64url(signedPayment(buyer(2), requirements))}`),
      )
      query.ws.close()
      await until(() => served.length === 3)
      expect(served).toEqual(['exact', 'exact', 'exact'])

      const rows = await paid.paywall.config.ledger.listByState(['settled'])
      expect(rows.map((r) => r.payer.toLowerCase()).sort()).toEqual(
        [buyer(0).address, buyer(1).address, buyer(2).address].map((a) => a.toLowerCase()).sort(),
      )
    } finally {
      await app.stop()
    }
  })

  it('takes a credit token in Authorization, a subprotocol or the query, and refuses an unknown one', async () => {
    const options = stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const urls: (string | undefined)[] = []
    const app = await serveWs(paid, options, async (ws, req) => {
      const payment = await paid.verify(req)
      urls.push(req.url)
      if (payment.verified) ws.send(payment.via)
    })
    try {
      const { token } = await (paid.paywall.credits as NonNullable<typeof paid.paywall.credits>).grant({
        amount: 0.05,
        ref: 'ws-test',
      })
      const ways = [{ headers: { authorization: `Bearer ${token}` } }, { protocols: ['x402', `x402-token.${token}`] }]
      for (const way of ways) {
        const open = opened(await connect(`${app.ws}/feed`, way))
        const got = open.got
        await until(() => got.messages.length === 1)
        expect(got.messages[0]).toBe('credit')
        open.ws.close()
      }
      const byQuery = opened(await connect(`${app.ws}/feed?room=1&x402-token=${token}&b=%20`))
      await until(() => byQuery.got.messages.length === 1)
      byQuery.ws.close()
      // The handler (its logs, a proxy after it) never sees the spendable token in the URL.
      expect(urls.at(-1)).toBe('/feed?room=1&b=%20')
      const balance = await paid.paywall.credits?.balance(token as string)
      expect(balance?.available).toBe('0.02')

      const unknown = refused(await connect(`${app.ws}/feed`, { headers: { authorization: 'Bearer x402c_nottoken' } }))
      expect(unknown.status).toBe(401)
      expect(JSON.parse(unknown.body).error).toBe('invalid_token')
    } finally {
      await app.stop()
    }
  })
})

describe('the seed, as written', () => {
  it('verifies in the connection handler: unpaid is told why and closed with 4402, paid streams', async () => {
    const options = stack.paywall()
    x402WebSocket.configure({ ...options, price: 0.01 })
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    let streams = 0
    const timers: NodeJS.Timeout[] = []
    // Seed 000, "WebSocket (Streaming)".
    wss.on('connection', async (ws: WebSocket, req: IncomingMessage) => {
      const payment = await x402WebSocket.verify(req)
      if (payment.verified) {
        streams++
        timers.push(setInterval(() => ws.send(JSON.stringify({ price: 101.5 })), 20))
      }
    })
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`
    try {
      const unpaid = opened(await connect(url))
      const got = unpaid.got
      const closed = await got.closed
      expect(closed.code).toBe(4402)
      expect(closed.reason).toMatch(/^payment_required/)
      const notice = got.messages[0] as { type: string; paymentRequired: string; status: number }
      expect(notice.type).toBe('x402.payment_required')
      expect(notice.status).toBe(402)
      const challenge = decodeHeader(notice.paymentRequired, PaymentRequiredSchema)
      if (!challenge.ok) throw new Error('no challenge')
      expect(streams).toBe(0)

      const payment = signedPayment(buyer(3), challenge.value.accepts[0] as never)
      const paidWs = opened(await connect(url, { headers: { 'PAYMENT-SIGNATURE': payment } }))
      const stream = paidWs.got
      await until(() => stream.app().length >= 2)
      expect(stream.app()[0]).toEqual({ price: 101.5 })
      paidWs.ws.close()
      expect(streams).toBe(1)
    } finally {
      for (const t of timers) clearInterval(t)
      for (const c of wss.clients) c.terminate()
      await new Promise((r) => wss.close(r))
      await x402WebSocket.close()
    }
  })

  it('refuses before the handshake with verifyClient', async () => {
    const options = stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: paid.verifyClient })
    await new Promise((r) => wss.once('listening', r))
    let connections = 0
    wss.on('connection', () => connections++)
    try {
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`
      const first = refused(await connect(url))
      expect(first.status).toBe(402)
      // The paths the paywall answers itself over HTTP, or hands on, are priced as any other.
      for (const path of ['__402x/admin/keys', '__402x/admin/plans/free', '__402x/dashboard', '.well-known/x402']) {
        const other = refused(await connect(`${url}${path}`))
        expect({ path, status: other.status }).toEqual({ path, status: 402 })
      }
      expect(first.headers['content-type']).toMatch(/json/)
      const challenge = challengeOf(first)
      const open = opened(
        await connect(url, {
          headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(4), challenge.accepts[0] as never) },
        }),
      )
      open.ws.close()
      expect(connections).toBe(1)
    } finally {
      await new Promise((r) => wss.close(r))
      await paid.close()
    }
  })
})
