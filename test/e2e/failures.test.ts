import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import {
  createPayment,
  createPaymentV1,
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  PaymentRequiredSchema,
  type PaymentRequirements,
  PaymentRequirementsV1Schema,
  SettleResponseSchema,
  signSiwx,
  X402Error,
} from '@402x/core'
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
import { createSqliteLedger, x402Middleware } from '402x-api'
import { createX402Client } from '402x-client'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ageLedger } from '../helpers/ageLedger.js'
import { recordVerified } from '../helpers/payments.js'
import { startRpcProxy } from '../helpers/rpcProxy.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
const servers: Server[] = []
const stops: (() => Promise<void>)[] = []

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => {})
  for (const s of servers) await close(s)
  await stack?.stop()
})

async function serve(app: express.Express) {
  const server = createServer(app)
  servers.push(server)
  return listen(server)
}

async function requirementsOf(url: string, init: RequestInit = {}): Promise<PaymentRequirements> {
  const res = await fetch(url, init)
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED from ${url}`)
  return decoded.value.accepts[0] as PaymentRequirements
}

/** A SIGN-IN-WITH-X header proving `buyer` asks, for `url`'s origin. */
const signIn = (url: string, buyer: { address: string; privateKey: string }) => ({
  'SIGN-IN-WITH-X': encodeHeader(
    signSiwx({
      info: createSiwxExtension({ url, networks: ['eip155:31337'] }).info,
      chainId: 'eip155:31337',
      privateKey: buyer.privateKey,
      address: buyer.address,
    }),
  ),
})

/** A 503 that tells the payer to retry with the same payment (the settlement may have landed). */
async function expectOutcomeUnknown(res: Response) {
  expect(res.status).toBe(503)
  expect(await res.clone().json()).toMatchObject({
    error: 'settlement_unknown',
    reason: 'settlement_unknown',
    message: expect.stringMatching(/same PAYMENT-SIGNATURE/),
  })
}

const signFor = (requirements: PaymentRequirements, buyer = stack.chain.buyers[0]!, now?: number) =>
  createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements, ...(now ? { now } : {}) })

describe('failure rules', () => {
  it('fails closed with 503 when the chain is down: never served, never charged', async () => {
    const proxy = await startRpcProxy(stack.chain.rpcUrl)
    stops.push(() => proxy.stop())
    const facilitator = createFacilitator({
      chains: [{ network: stack.chain.network, rpcUrl: proxy.url }],
      privateKeys: [stack.chain.facilitator.privateKey],
    })
    let served = 0
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall(), facilitator, price: 0.01 }), (_req, res) => {
      served++
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const before = await stack.chain.balanceOf(stack.chain.buyers[0]!.address)
    await proxy.down()
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements)) } })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('2')
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('chain_unavailable')
    expect(body.message).toContain('nothing was charged')
    expect(served).toBe(0)
    expect(await stack.chain.balanceOf(stack.chain.buyers[0]!.address)).toBe(before)
    await proxy.up()
  })

  it('after a crash between settle and record, reconciliation finds the settlement; the payer is served once, then refused', async () => {
    const options = stack.paywall()
    const app = express()
    const middleware = x402Middleware({ ...options, price: 0.01 })
    app.get('/paid', middleware, (_req, res) => {
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[2]!
    const payment = signFor(requirements, buyer)
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)

    // The process recorded `settling`, the settlement landed on chain, then it crashed.
    const ledger = createSqliteLedger({ path: options.ledger })
    const id = await recordVerified(ledger, { payment, requirements, payer: buyer.address, url })
    await ledger.transition(id, 'settling')
    const settled = await stack.facilitator.settle(payment, requirements)
    expect(settled.success).toBe(true)
    ageLedger(options.ledger)

    expect(await middleware.paywall.reconcile()).toBe(1)
    // Paid on chain, never served (the process crashed first): flagged for the payer's retry.
    expect(await ledger.get(id)).toMatchObject({ state: 'reconciled', undelivered: true })
    await ledger.close()

    const unsigned = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(unsigned.status).toBe(402)
    expect(await unsigned.json()).toMatchObject({ reason: 'sign_in_required' })
    const retry = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment), ...signIn(url, buyer) } })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ ok: true })
    expect(retry.headers.get('payment-response')).toBeTruthy()
    const replay = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(replay.status).toBe(402)
    expect(await replay.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 10000n)
  })

  it('refuses a replay of a paid payment as used when the facilitator cannot verify: the ledger knows it', async () => {
    const real = stack.facilitator
    let down = false
    const flaky = {
      ...real,
      verify: async (...args: Parameters<typeof real.verify>) => {
        if (down) throw new X402Error('facilitator_unavailable', { message: 'the facilitator is unreachable' })
        return real.verify(...args)
      },
    }
    let served = 0
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall({ facilitator: flaky }), price: 0.01 }), (_req, res) => {
      served++
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[3]!
    const header = { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) }
    const first = await fetch(url, { headers: header })
    expect(first.status).toBe(200)
    await first.arrayBuffer()
    const before = await stack.chain.balanceOf(buyer.address)
    down = true
    // Verification faults, but this authorization is in the ledger, paid and delivered:
    // refused for what it is, not a 503 that tells the caller to try the same payment again.
    const replay = await fetch(url, { headers: header })
    expect(replay.status).toBe(402)
    expect(await replay.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
    // A new payment while verification faults: not served, not charged, and told to retry.
    const fresh = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) } })
    expect(fresh.status).toBe(503)
    expect(await fresh.json()).toMatchObject({ error: 'facilitator_unavailable' })
    expect(served).toBe(1)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('refuses an expired authorization with 402 and its reason', async () => {
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall(), price: 0.01 }), (_req, res) => {
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const stale = signFor(requirements, stack.chain.buyers[3]!, Math.floor(Date.now() / 1000) - 600)
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(stale) } })
    expect(res.status).toBe(402)
    const body = (await res.json()) as { reason: string; message: string }
    expect(body.reason).toBe('invalid_exact_evm_payload_authorization_valid_before')
    expect(body.message).toContain('sign a new one')
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    expect(required.ok && required.value.error).toBe('invalid_exact_evm_payload_authorization_valid_before')
  })

  it('refuses two PAYMENT-SIGNATURE headers as sent twice, charging nothing', async () => {
    const app = express()
    let runs = 0
    app.get('/paid', x402Middleware({ ...stack.paywall(), price: 0.01 }), (_req, res) => {
      runs++
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[3]!
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(url, {
      headers: [
        ['PAYMENT-SIGNATURE', encodeHeader(signFor(requirements, buyer))],
        ['PAYMENT-SIGNATURE', encodeHeader(signFor(requirements, buyer))],
      ],
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      reason: 'invalid_payload',
      message: expect.stringMatching(/sent more than once/),
    })
    expect(runs).toBe(0)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('accepts a v1 X-PAYMENT built from the v1 body and answers X-PAYMENT-RESPONSE', async () => {
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall(), price: 0.005 }), (_req, res) => {
      res.json({ v1: true })
    })
    const url = `${await serve(app)}/paid`
    const unpaid = await fetch(url)
    const body = (await unpaid.json()) as { x402Version: number; accepts: unknown[] }
    expect(body.x402Version).toBe(1)
    const v1 = PaymentRequirementsV1Schema.parse(body.accepts[0])
    expect(v1).toMatchObject({ maxAmountRequired: '5000', network: 'localhost', resource: url })
    const buyer = stack.chain.buyers[4]!
    const before = await stack.chain.balanceOf(buyer.address)
    const payment = createPaymentV1({ privateKey: buyer.privateKey, from: buyer.address, requirements: v1 })
    const res = await fetch(url, { headers: { 'X-PAYMENT': encodeHeader(payment) } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ v1: true })
    const settle = decodeHeader(res.headers.get('x-payment-response')!, SettleResponseSchema)
    expect(settle.ok && settle.value.success).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 5000n)
  })

  it('never charges HEAD or an OPTIONS preflight', async () => {
    let served = 0
    const app = express()
    app.use('/paid', x402Middleware({ ...stack.paywall(), price: 0.01 }))
    app.all('/paid', (_req, res) => {
      served++
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const head = await fetch(url, { method: 'HEAD' })
    expect(head.status).toBe(402)
    expect(head.headers.get('payment-required')).toBeTruthy()
    // The paid handler serves every method (`app.all`), yet never runs for OPTIONS.
    const options = await fetch(url, { method: 'OPTIONS' })
    expect(options.status).toBe(204)
    expect(options.headers.get('allow')).toBeNull()
    expect(served).toBe(0)
  })
})

describe('a chain that goes down halfway', () => {
  it('when the chain goes down between verify and settle: no response, no charge, reconciled to failed', async () => {
    // Its own chain: this test moves the chain's clock forward.
    const stack = await startStack()
    stops.push(() => stack.stop())
    const proxy = await startRpcProxy(stack.chain.rpcUrl)
    stops.push(() => proxy.stop())
    const facilitator = createFacilitator({
      chains: [{ network: stack.chain.network, rpcUrl: proxy.url }],
      privateKeys: [stack.chain.facilitator.privateKey],
    })
    const facilitatorServer = createFacilitatorServer({ facilitator })
    servers.push(facilitatorServer)
    const facilitatorUrl = await listen(facilitatorServer)
    const options = stack.paywall({ facilitator: facilitatorUrl })
    const middleware = x402Middleware({ ...options, price: 0.01, maxTimeoutSeconds: 30 })
    const app = express()
    app.get('/paid', middleware, async (_req, res) => {
      await proxy.down()
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[1]!
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) } })
    expect(res.status).toBe(503)
    expect(await res.text()).not.toContain('secret')
    await proxy.up()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)

    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      const [row] = await ledger.list()
      expect(row).toMatchObject({ state: 'pending', reason: 'settle_error', payer: buyer.address.toLowerCase() })
      // Still within its validity the payment could land: reconciliation leaves it pending.
      // States only move forward: pending cannot jump to settled without reconciliation.
      expect(await ledger.transition(row!.id, 'settled')).toBe(false)
      expect(await middleware.paywall.reconcile()).toBe(0)
      // Once the chain's clock passes validBefore, the unused authorization is final.
      await stack.chain.publicClient.request({ method: 'evm_increaseTime' as never, params: [120] as never })
      await stack.chain.publicClient.request({ method: 'evm_mine' as never, params: [] as never })
      // Reconciliation skips payments touched in the last 5 s (they may be in flight).
      ageLedger(options.ledger)
      expect(await middleware.paywall.reconcile()).toBe(1)
      expect(await ledger.get(row!.id)).toMatchObject({ state: 'failed', reason: 'reconciled' })
    } finally {
      await ledger.close()
    }
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })
})

describe('a retry after a settlement fault', () => {
  it('settles anew when the first settlement never reached the chain: served once, charged once', async () => {
    const proxy = await startRpcProxy(stack.chain.rpcUrl)
    stops.push(() => proxy.stop())
    const facilitator = createFacilitator({
      chains: [{ network: stack.chain.network, rpcUrl: proxy.url }],
      privateKeys: [stack.chain.facilitator.privateKey],
    })
    const options = stack.paywall({ facilitator })
    let calls = 0
    const app = express()
    app.get('/paid', x402Middleware({ ...options, price: 0.01 }), async (_req, res) => {
      if (++calls === 1) await proxy.down()
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[5]!
    const header = { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) }
    const before = await stack.chain.balanceOf(buyer.address)
    const first = await fetch(url, { headers: header })
    await expectOutcomeUnknown(first)
    await proxy.up()
    const retry = await fetch(url, { headers: header })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ secret: 42 })
    const settle = decodeHeader(retry.headers.get('payment-response')!, SettleResponseSchema)
    expect(settle.ok && settle.value.success).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      const rows = await ledger.list()
      expect(rows.map((r) => [r.state, r.reason ?? null]).sort()).toEqual([
        ['failed', 'retried'],
        ['settled', null],
      ])
    } finally {
      await ledger.close()
    }
  })

  it('serves without a second charge when the first settlement landed but its answer was lost', async () => {
    const real = stack.facilitator
    const lossy = {
      ...real,
      settle: async (...args: Parameters<typeof real.settle>) => {
        const result = await real.settle(...args)
        if (!result.success) return result
        throw new X402Error('facilitator_unavailable', { message: 'the answer was lost on the way back' })
      },
    }
    const options = stack.paywall({ facilitator: lossy })
    let served = 0
    const app = express()
    app.get('/paid', x402Middleware({ ...options, price: 0.01 }), (_req, res) => {
      served++
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[4]!
    const header = { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) }
    const before = await stack.chain.balanceOf(buyer.address)
    const first = await fetch(url, { headers: header })
    await expectOutcomeUnknown(first)
    expect(await first.text()).not.toContain('secret')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
    // The payer retries the same payment: the chain says it was paid, so it is served.
    // The signature is public on chain: a retry without the payer's sign-in is not served …
    const unsigned = await fetch(url, { headers: header })
    expect(unsigned.status).toBe(402)
    expect(await unsigned.json()).toMatchObject({ reason: 'sign_in_required' })
    // … and the payer's is.
    const retry = await fetch(url, { headers: { ...header, ...signIn(url, buyer) } })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ secret: 42 })
    const settle = decodeHeader(retry.headers.get('payment-response')!, SettleResponseSchema)
    expect(settle.ok && settle.value).toMatchObject({ success: true, payer: buyer.address })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
    // Served once per payment: a third presentation is refused.
    const third = await fetch(url, { headers: header })
    expect(third.status).toBe(402)
    expect(served).toBe(2)
    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      expect((await ledger.list()).map((r) => r.state)).toEqual(['reconciled'])
    } finally {
      await ledger.close()
    }
  })
})

describe('402x-client after a settlement fault', () => {
  it('retries with the same payment, and is served once and charged once', async () => {
    const real = stack.facilitator
    let lost = 0
    const lossy = {
      ...real,
      settle: async (...args: Parameters<typeof real.settle>) => {
        const result = await real.settle(...args)
        if (!result.success || lost++ > 0) return result
        throw new X402Error('facilitator_unavailable', { message: 'the answer was lost on the way back' })
      },
    }
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall({ facilitator: lossy }), price: 0.01 }), (_req, res) => {
      res.json({ secret: 42 })
    })
    const url = `${await serve(app)}/paid`
    const buyer = stack.chain.buyers[5]!
    const client = createX402Client({
      wallet: buyer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await client.get(url)
    expect(res.status).toBe(200)
    expect(res.data).toEqual({ secret: 42 })
    expect(lost).toBe(1)
    expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(10000n)
    expect(client.receipts).toHaveLength(1)
  })
})

describe('a settlement that is not confirmed in time', () => {
  it('serves once, keeps the payment pending with its hash, and reconciles it when it lands', async () => {
    // Its own chain: this test turns automine off.
    const stack = await startStack()
    stops.push(() => stack.stop())
    const facilitator = createFacilitator({
      chains: [{ network: stack.chain.network, rpcUrl: stack.chain.rpcUrl }],
      privateKeys: [stack.chain.facilitator.privateKey],
      receiptTimeoutMs: 300,
    })
    const options = stack.paywall({ facilitator })
    const middleware = x402Middleware({ ...options, price: 0.01 })
    const app = express()
    app.get('/paid', middleware, (_req, res) => {
      res.json({ served: true })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[0]!
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const rpc = (method: string, params: unknown[] = []) =>
      stack.chain.publicClient.request({ method: method as never, params: params as never })
    await rpc('evm_setAutomine', [false])
    const payment = signFor(requirements, buyer)
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ served: true })
    const settle = decodeHeader(res.headers.get('payment-response')!, SettleResponseSchema)
    if (!settle.ok) throw new Error('no PAYMENT-RESPONSE')
    expect(settle.value).toMatchObject({ success: false, errorReason: 'settlement_pending' })
    expect(settle.value.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before)

    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      const [row] = await ledger.list()
      expect(row).toMatchObject({ state: 'pending', transaction: settle.value.transaction })
      // The payer is never asked to pay twice, and the same signature is not served again.
      const again = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
      expect(again.status).toBe(402)
      expect(await again.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })

      await rpc('evm_mine')
      await rpc('evm_setAutomine', [true])
      ageLedger(options.ledger)
      expect(await middleware.paywall.reconcile()).toBe(1)
      expect(await ledger.get(row!.id)).toMatchObject({ state: 'reconciled', transaction: settle.value.transaction })
    } finally {
      await ledger.close()
    }
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 10000n)
  })
})

describe('a caller that leaves while its payment settles', () => {
  it('is charged once, and served once more when it retries the same payment', async () => {
    // Its own chain: this test turns automine off to hold the settlement open.
    const stack = await startStack()
    stops.push(() => stack.stop())
    const facilitator = createFacilitator({
      chains: [{ network: stack.chain.network, rpcUrl: stack.chain.rpcUrl }],
      privateKeys: [stack.chain.facilitator.privateKey],
      receiptTimeoutMs: 20_000,
    })
    const options = stack.paywall({ facilitator })
    const middleware = x402Middleware({ ...options, price: 0.01 })
    const undelivered: unknown[] = []
    middleware.paywall.events.on('undelivered', (e) => undelivered.push(e))
    let served = 0
    const app = express()
    app.get('/paid', middleware, (_req, res) => {
      served++
      res.json({ report: served })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[0]!
    const before = await stack.chain.balanceOf(buyer.address)
    const rpc = (method: string, params: unknown[] = []) =>
      stack.chain.publicClient.request({ method: method as never, params: params as never })
    const header = { 'PAYMENT-SIGNATURE': encodeHeader(signFor(requirements, buyer)) }
    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      await rpc('evm_setAutomine', [false])
      // The caller gives up once the handler has run and the settlement is sent.
      const leaving = new AbortController()
      const first = fetch(url, { headers: header, signal: leaving.signal }).catch((e: Error) => e)
      // The settlement is sent once its transaction waits in anvil's pool.
      const settling = async () => Number(((await rpc('txpool_status')) as { pending: string }).pending) > 0
      for (let i = 0; i < 200 && !(await settling()); i++) await new Promise((r) => setTimeout(r, 25))
      expect(await settling()).toBe(true)
      expect((await ledger.list())[0]?.state).toBe('verified')
      leaving.abort()
      expect(await first).toBeInstanceOf(Error)
      await rpc('evm_mine')
      await rpc('evm_setAutomine', [true])
      const flagged = async () => (await ledger.list())[0]?.undelivered === true
      for (let i = 0; i < 200 && !(await flagged()); i++) await new Promise((r) => setTimeout(r, 25))
      expect((await ledger.list())[0]).toMatchObject({ state: 'settled', undelivered: true })
      expect(undelivered).toHaveLength(1)
      expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(10000n)

      // The nonce alone opens nothing: a payload with another signature is a replay.
      const payment = signFor(requirements, buyer)
      const forged = JSON.parse(Buffer.from(header['PAYMENT-SIGNATURE'], 'base64').toString()) as typeof payment
      forged.payload = { ...forged.payload, signature: `0x${'00'.repeat(65)}` }
      const replay = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(forged) } })
      expect(replay.status).toBe(402)
      expect(await replay.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
      void payment

      // The retry with the same payment is served, with the same receipt, and no new charge.
      const unsigned = await fetch(url, { headers: header })
      expect(unsigned.status).toBe(402)
      expect(await unsigned.json()).toMatchObject({ reason: 'sign_in_required' })
      const someoneElse = stack.chain.buyers[1]!
      const wrongPayer = await fetch(url, { headers: { ...header, ...signIn(url, someoneElse) } })
      expect(wrongPayer.status).toBe(402)
      const retry = await fetch(url, { headers: { ...header, ...signIn(url, buyer) } })
      expect(retry.status).toBe(200)
      expect(await retry.json()).toEqual({ report: 2 })
      const settle = decodeHeader(retry.headers.get('payment-response')!, SettleResponseSchema)
      expect(settle.ok && settle.value).toMatchObject({
        success: true,
        transaction: (await ledger.list())[0]?.transaction,
      })
      expect((await ledger.list())[0]?.undelivered).toBeUndefined()
      // Once delivered, the payment is spent: a third use is refused.
      const third = await fetch(url, { headers: header })
      expect(third.status).toBe(402)
      expect(await third.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
      expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(10000n)
    } finally {
      await ledger.close()
    }
  })
})

describe('configuration', () => {
  it('stops start-up naming the missing setting and how to set it', async () => {
    const cwd = process.cwd()
    const saved = { ...process.env }
    const dir = join(stack.dir, 'empty')
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    try {
      process.chdir(dir)
      for (const k of Object.keys(process.env)) if (k.startsWith('X402_')) delete process.env[k]
      expect(() => x402Middleware({ price: 0.01 })).toThrow(
        'X402_PAY_TO is not set: pass `payTo` to x402Middleware(), set X402_PAY_TO=0xYourAddress, add "payTo" to 402x.config.json, or run `402x dev`',
      )
      process.env.X402_PAY_TO = stack.chain.payTo.address
      expect(() => x402Middleware({ price: 0.01 })).toThrow('X402_NETWORK is not set')
      process.env.X402_NETWORK = 'eip155:84532'
      expect(() => x402Middleware({ price: 0.01 })).toThrow('X402_FACILITATOR_URL is not set')
      writeFileSync(join(dir, '402x.config.json'), JSON.stringify({ facilitatorUrl: 'http://127.0.0.1:1' }))
      const mw = x402Middleware({ price: 0.01, reconcileIntervalMs: 0, ledger: join(dir, 'l.db') })
      expect(mw.paywall.config).toMatchObject({
        payTo: stack.chain.payTo.address,
        network: 'eip155:84532',
        asset: { address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', eip712: { name: 'USDC', version: '2' } },
      })
      await mw.paywall.close()
      process.env.X402_PAY_TO = 'nope'
      expect(() => x402Middleware({ price: 0.01 })).toThrow('payTo "nope" (from X402_PAY_TO) is not an address')
      process.env.X402_PAY_TO = stack.chain.payTo.address
      expect(() => x402Middleware({ price: -1 })).toThrow('is negative')
      expect(() => x402Middleware({ price: 0 })).toThrow('needs a price above 0')
      expect(() => x402Middleware({ price: 0.01, network: 'solana' })).toThrow(
        'network "solana" (from option `network`) is not known',
      )
    } finally {
      process.chdir(cwd)
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
    }
  })
})
