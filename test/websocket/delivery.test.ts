import { createServer, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import {
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  PaymentRequiredSchema,
  type PaymentRequirements,
  signSiwx,
} from '@402x/core'
import { createX402WebSocket } from '402x-api'
import { describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'
import { signedPayment } from '../helpers/payments.js'
import { close, listen } from '../helpers/stack.js'
import { chainForTests, connect, type Opened, type Refused, serveWs, until, upgradeStatus } from './wsHelpers.js'

// A paid connect whose socket never opens: nothing is charged for it. An exact payment
// settled before a handshake that then fails is flagged undelivered (the payer's signed
// retry is served at no new charge); credit held for it is released; a malformed upgrade is
// refused before anything is verified or settled.
const dev = chainForTests()
const buyer = dev.buyer

const refused = (r: Opened | Refused): Refused => {
  if (r.kind !== 'refused') throw new Error('the upgrade was accepted')
  return r
}
const requirementsOf = (r: Refused) => {
  const decoded = decodeHeader(String(r.headers['payment-required']), PaymentRequiredSchema)
  if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
  return decoded.value.accepts[0] as PaymentRequirements
}
/** Waits (at most 10 s) for an async check. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 20))
  }
}
const balanceOf = (address: string) => dev.stack.chain.balanceOf(address as `0x${string}`)
const signIn = (url: string, who: { address: string; privateKey: string }) =>
  encodeHeader(
    signSiwx({
      info: createSiwxExtension({ url, networks: [dev.stack.chain.network] }).info,
      chainId: dev.stack.chain.network,
      privateKey: who.privateKey,
      address: who.address,
    }),
  )

describe('a paid WebSocket connect that never opens', () => {
  it('verifyClient: the socket drops while the payment settles; flagged undelivered, and the signed retry is served free', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const server = createServer()
    const sockets: Socket[] = []
    server.on('connection', (s) => sockets.push(s))
    const wss = new WebSocketServer({ server, verifyClient: paid.verifyClient })
    let served = 0
    wss.on('connection', async (ws: WebSocket, req: IncomingMessage) => {
      const payment = await paid.verify(req)
      if (payment.verified) {
        served++
        ws.send('paid')
      }
    })
    const undelivered: string[] = []
    paid.paywall.events.on('undelivered', (u) => undelivered.push(u.id))
    let drop = false
    // The caller's connection goes away once its payment is verified, before it is settled.
    paid.paywall.events.on('verified', () => {
      if (drop) sockets.at(-1)?.destroy()
      drop = false
    })
    const http = await listen(server)
    const url = `${http.replace('http', 'ws')}/quotes`
    try {
      const requirements = requirementsOf(refused(await connect(url)))
      const payment = signedPayment(buyer(0), requirements)
      const before = await balanceOf(dev.stack.chain.payTo.address)
      drop = true
      await expect(connect(url, { headers: { 'PAYMENT-SIGNATURE': payment } })).rejects.toThrow()
      const ledger = paid.paywall.config.ledger
      await eventually(async () => (await ledger.listByState(['settled']))[0]?.undelivered === true)
      const [row] = await ledger.listByState(['settled'])
      expect(undelivered).toEqual([row?.id])
      expect(served).toBe(0)
      // Paid on chain, once.
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before + 10_000n)

      // The same payment again without a sign-in: refused, the re-serve kept for the payer.
      const anyone = refused(await connect(url, { headers: { 'PAYMENT-SIGNATURE': payment } }))
      expect(anyone.status).toBe(402)
      expect(JSON.parse(anyone.body).reason).toBe('sign_in_required')
      // The payer's signed retry: served, no second charge.
      const retry = await connect(url, {
        headers: { 'PAYMENT-SIGNATURE': payment, 'SIGN-IN-WITH-X': signIn(`${http}/quotes`, buyer(0)) },
      })
      if (retry.kind !== 'open') throw new Error(`the signed retry was refused: ${retry.status} ${retry.body}`)
      await until(() => retry.got.app().length === 1)
      expect(retry.got.app()).toEqual(['paid'])
      retry.ws.close()
      expect(served).toBe(1)
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before + 10_000n)
      expect(await ledger.listByState(['settled', 'reconciled', 'pending'])).toHaveLength(1)
    } finally {
      for (const c of wss.clients) c.terminate()
      wss.close()
      await close(server)
      await paid.close()
    }
  })

  it('handleUpgrade: the ws server aborts the handshake after the payment; flagged undelivered', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const app = await serveWs(paid, options, () => {})
    const undelivered: string[] = []
    paid.paywall.events.on('undelivered', (u) => undelivered.push(u.id))
    // The app's WebSocketServer shuts down while the upgrade is being paid: `ws` answers 503.
    paid.paywall.events.on('verified', () => app.wss.close())
    try {
      const requirements = requirementsOf(refused(await connect(`${app.ws}/stream`)))
      const before = await balanceOf(dev.stack.chain.payTo.address)
      const answer = await connect(`${app.ws}/stream`, {
        headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(1), requirements) },
      }).catch((error: Error) => error)
      expect(answer instanceof Error || answer.kind === 'refused').toBe(true)
      const ledger = paid.paywall.config.ledger
      await eventually(async () => (await ledger.listByState(['settled']))[0]?.undelivered === true)
      expect(undelivered).toHaveLength(1)
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before + 10_000n)
    } finally {
      await app.stop()
    }
  })

  it('handleUpgrade: a malformed upgrade is refused with 400 before its payment is verified or settled', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const app = await serveWs(paid, options, () => {})
    try {
      const requirements = requirementsOf(refused(await connect(`${app.ws}/stream`)))
      const before = await balanceOf(dev.stack.chain.payTo.address)
      const status = await upgradeStatus(`${app.http}/stream`, {
        'sec-websocket-key': 'not a key',
        'payment-signature': signedPayment(buyer(2), requirements),
      })
      expect(status).toBe(400)
      expect(await paid.paywall.config.ledger.listByState(['verified', 'settling', 'settled', 'pending'])).toEqual([])
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before)
    } finally {
      await app.stop()
    }
  })

  it('handleUpgrade: a handshake ws aborts after the connect was paid from credit gives the credit back', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const server = createServer()
    // Compression on: ws reads Sec-WebSocket-Extensions, and refuses a bad one, after the connect is paid.
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true })
    let served = 0
    wss.on('connection', () => served++)
    paid.handleUpgrade(server, wss)
    const http = await listen(server)
    try {
      const { token } = await (paid.paywall.credits as NonNullable<typeof paid.paywall.credits>).grant({
        amount: 0.05,
        ref: 'ws-aborted',
      })
      const status = await upgradeStatus(`${http}/stream`, {
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=99',
        authorization: `Bearer ${token}`,
      })
      expect(status).toBe(400)
      expect(served).toBe(0)
      const credits = paid.paywall.credits as NonNullable<typeof paid.paywall.credits>
      await eventually(async () => (await credits.balance(token as string))?.available === '0.05')
    } finally {
      wss.close()
      await close(server)
      await paid.close()
    }
  })

  it('billed: a deposit paid for a handshake ws aborts stays credit, and the payer gets it back by signing in', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, billing: { perMessage: 0.0001 }, deposit: 0.05 })
    const server = createServer()
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true })
    wss.on('connection', (ws: WebSocket) => ws.send('streaming'))
    paid.handleUpgrade(server, wss)
    const http = await listen(server)
    const url = `${http.replace('http', 'ws')}/stream`
    const service = (paid.paywall.config.credits as NonNullable<typeof paid.paywall.config.credits>).service
    try {
      const requirements = requirementsOf(refused(await connect(url)))
      expect(requirements.amount).toBe('50000')
      const payment = signedPayment(buyer(4), requirements)
      const before = await balanceOf(dev.stack.chain.payTo.address)
      const status = await upgradeStatus(`${http}/stream`, {
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=99',
        'payment-signature': payment,
      })
      expect(status).toBe(400)
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before + 50_000n)
      const [row] = await paid.paywall.config.ledger.listByState(['settled', 'reconciled'])
      const account = (await service.accountOfPayment(row?.id as string)) as string
      // The deposit is credit on its account, all of it: nothing held, nothing charged.
      await eventually(async () => (await service.balance(account)).reserved === 0n)
      expect(await service.balance(account)).toMatchObject({ available: 50_000n, reserved: 0n })

      // The payer's signed retry of the same payment gets that account's token and connects.
      const retry = await connect(url, {
        headers: {
          'PAYMENT-SIGNATURE': payment,
          'SIGN-IN-WITH-X': signIn(`${http}/__402x/credits`, buyer(4)),
        },
      })
      if (retry.kind !== 'open') throw new Error(`the signed retry was refused: ${retry.status} ${retry.body}`)
      const token = String(retry.headers['x-402x-credit-token'])
      expect(await service.accountFor(token)).toBe(account)
      await until(() => retry.got.app().length === 1)
      retry.ws.close()
      expect(await balanceOf(dev.stack.chain.payTo.address)).toBe(before + 50_000n)
    } finally {
      for (const c of wss.clients) c.terminate()
      wss.close()
      await close(server)
      await paid.close()
    }
  })

  it('the seed path: a socket gone while verify pays from credit is charged nothing and holds nothing', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.001, billing: { perMessage: 0.0001 } })
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    const results: boolean[] = []
    wss.on('connection', async (ws: WebSocket, req: IncomingMessage) => {
      // The caller is gone by the time its credit is checked.
      ws.terminate()
      const payment = await paid.verify(req)
      results.push(payment.verified)
    })
    const service = (paid.paywall.config.credits as NonNullable<typeof paid.paywall.config.credits>).service
    try {
      const { token } = await (paid.paywall.credits as NonNullable<typeof paid.paywall.credits>).grant({
        amount: 0.05,
        ref: 'ws-gone',
      })
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`
      const open = await connect(url, { headers: { authorization: `Bearer ${token}` } })
      if (open.kind === 'open') await open.got.closed
      await until(() => results.length === 1)
      const account = (await service.accountFor(token as string)) as string
      await eventually(async () => (await service.balance(account)).reserved === 0n)
      expect(await service.balance(account)).toMatchObject({ available: 50_000n, reserved: 0n })
      expect((await service.entries(account, 50)).filter((e) => e.kind === 'capture')).toEqual([])
      // verify tells the app the connect is not paid: it must not act on it.
      expect(results).toEqual([false])
    } finally {
      await new Promise((r) => wss.close(r))
      await paid.close()
    }
  })

  it('the seed path: a socket gone while verify settles an exact payment is flagged undelivered', async () => {
    const options = dev.stack.paywall()
    const paid = createX402WebSocket({ ...options, price: 0.01 })
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    const answers: { verified: boolean; reason?: string }[] = []
    wss.on('connection', async (_ws: WebSocket, req: IncomingMessage) => {
      answers.push(await paid.verify(req))
    })
    paid.paywall.events.on('verified', () => {
      for (const c of wss.clients) c.terminate()
    })
    try {
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`
      const unpaid = await connect(url)
      if (unpaid.kind !== 'open') throw new Error('the seed path refuses after the handshake')
      await until(() => unpaid.got.messages.length > 0)
      const notice = unpaid.got.messages[0] as { paymentRequired: string }
      const challenge = decodeHeader(notice.paymentRequired, PaymentRequiredSchema)
      if (!challenge.ok) throw new Error('no challenge')
      const payment = signedPayment(buyer(3), challenge.value.accepts[0] as PaymentRequirements)
      const open = await connect(url, { headers: { 'PAYMENT-SIGNATURE': payment } })
      if (open.kind === 'open') await open.got.closed
      const ledger = paid.paywall.config.ledger
      await eventually(async () => (await ledger.listByState(['settled']))[0]?.undelivered === true)
      // The unpaid connect is refused; the paid one, undone, is not reported paid to the app.
      await until(() => answers.length === 2)
      expect(answers[1]).toMatchObject({ verified: false, reason: 'undelivered' })
    } finally {
      await new Promise((r) => wss.close(r))
      await paid.close()
    }
  })
})
