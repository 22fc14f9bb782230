import type { ChildProcess } from 'node:child_process'
import type { Server } from 'node:http'
import { join } from 'node:path'
import type { PaymentRequirements } from '@402x/core'
import { createPaywall, type Paywall, plans, x402Middleware } from '402x-api'
import express from 'express'
import postgres from 'postgres'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { parseAbi, parseEventLogs } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'
import { stableId } from '../../packages/api/src/webhooks/eventIds.js'
import { type Received, startReceiver, until } from '../../packages/api/src/webhooks/receiver.fixture.js'
import { generateWebhookSecret } from '../../packages/api/src/webhooks/signWebhook.js'
import { devFolder, startScript } from '../examples/startExample.js'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { freshSchema, postgresUrlOrSkip } from '../helpers/services.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Webhooks from real payments on the local anvil chain (Circle's USDC, a real facilitator):
// - a paid `exact` request, a credit top-up, a metered request's refund, a payment served in
//   part (the rest given back), a key made and revoked, while the receiver refuses connections, then answers 503, then 2xx: every
//   event arrives, signed (checked with the `standardwebhooks` and `svix` packages), with
//   the same id at every attempt; `payment.settled` carries the amount, the payer and the
//   transaction, which the chain confirms;
// - a seller SIGKILLed right after answering (its events committed with the top-up and the
//   keys, never sent): the next process on the same ledger (SQLite, PostgreSQL) sends them.
// Retries are fast here (`webhookDelivery`); nothing waits on a clock but bounded polls.
const databaseUrl = await postgresUrlOrSkip()
let stack: Stack
beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(() => stack?.stop())

const fast = { pollIntervalMs: 50, initialBackoffMs: 100, maxBackoffMs: 400, timeoutMs: 2_000 }
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const evt = (type: string, key: string) => stableId('evt', type, key)

/** Pays what `path` asks for (the first of its 402's accepts) from buyer `i`. */
async function paid(base: string, path: string, i: number, init: RequestInit = {}) {
  const unpaid = await fetch(`${base}${path}`, init)
  expect(unpaid.status).toBe(402)
  const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
  const answer = await fetch(`${base}${path}`, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      'PAYMENT-SIGNATURE': signedPayment(buyer(i), requirements),
    },
  })
  expect(answer.status).toBe(200)
  const settled = JSON.parse(Buffer.from(answer.headers.get('payment-response') ?? '', 'base64').toString()) as {
    transaction: `0x${string}`
  }
  return { answer, transaction: settled.transaction }
}

/** Every delivery the receiver got, checked with both verifier packages; the parsed events by id. */
function verifiedAll(received: Received[], secret: string) {
  const byId = new Map<string, { type: string; data: Record<string, unknown> }>()
  for (const got of received) {
    const event = new StandardWebhook(secret).verify(got.body, got.headers) as {
      type: string
      data: Record<string, unknown>
    }
    expect(() => new SvixWebhook(secret).verify(got.body, got.headers)).not.toThrow()
    byId.set(got.headers['webhook-id'] as string, event)
  }
  // The check can fail: one byte changed, or another secret, and both verifiers refuse.
  const [first] = received
  if (first) {
    const tampered = first.body.replace('"data":{', '"data":{"x":1,')
    expect(() => new StandardWebhook(secret).verify(tampered, first.headers)).toThrow()
    expect(() => new SvixWebhook(secret).verify(tampered, first.headers)).toThrow()
    expect(() => new StandardWebhook(generateWebhookSecret()).verify(first.body, first.headers)).toThrow()
  }
  return byId
}

describe('webhooks from payments on the local chain', () => {
  let server: Server | undefined
  afterAll(() => close(server))

  it('a receiver down, then failing, then up: every event arrives, signed, its id stable across retries', async () => {
    const receiver = await startReceiver()
    const secret = generateWebhookSecret()
    await receiver.down()
    const app = express()
    const middleware = x402Middleware({
      ...stack.paywall(),
      routes: { 'GET /api/data': 0.01, 'POST /api/complete': { pricePerToken: 0.0001, max: 0.01 } },
      keys: { plans: [plans.free()] },
      webhooks: [{ url: receiver.url, events: ['*'], secret }],
      webhookDelivery: fast,
    })
    const paywall = middleware.paywall as Paywall
    app.use(middleware)
    app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
    app.post('/api/complete', (_req, res) => res.json({ text: 'a b c', tokens: 3 }))
    server = app.listen(0, '127.0.0.1')
    const base = await listen(server)
    try {
      const before = await stack.chain.balanceOf(stack.chain.payTo.address)
      const exact = await paid(base, '/api/data', 0)
      await paid(base, '/__402x/credits?amount=0.5', 1, { method: 'POST' })
      const metered = await paid(base, '/api/complete', 2, { method: 'POST' })
      expect(JSON.parse(metered.answer.headers.get('x-402x-receipt') ?? '{}')).toMatchObject({ returned: '9700' })
      // A payment served in part (a GraphQL batch whose operations partly failed): the rest
      // goes back as credit, through the core's finishReturning.
      const partUrl = `${base}/api/data`
      const challenge = await paywall.handle(new Request(partUrl))
      if (challenge.type !== 'respond') throw new Error('a 402 first')
      const partRequirements = requiredOf(challenge.response).accepts[0] as PaymentRequirements
      const part = await paywall.handle(
        new Request(partUrl, { headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(4), partRequirements) } }),
      )
      if (part.type !== 'proceed' || !part.finishReturning) throw new Error('a paid request that may give part back')
      const gaveBack = await part.finishReturning(4_000n)
      expect(gaveBack).not.toBeInstanceOf(Response)
      const keys = paywall.keys as NonNullable<Paywall['keys']>
      const { info } = await keys.create({ name: 'acme', plan: 'free' })
      expect(await keys.revoke(info.id)).toBe(true)
      expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(
        before + 10_000n + 500_000n + 10_000n + 10_000n,
      )

      const payments = await paywall.config.ledger.list()
      const byTx = new Map(payments.map((p) => [p.transaction, p]))
      const exactRow = byTx.get(exact.transaction)
      const meteredRow = byTx.get(metered.transaction)
      const partRow = payments.find((p) => p.payer === buyer(4).address.toLowerCase())
      const topUpRow = payments.find((p) => p !== exactRow && p !== meteredRow && p !== partRow)
      if (!exactRow || !meteredRow || !topUpRow || !partRow) throw new Error('four payments in the ledger')
      const expected = new Set([
        ...payments.map((p) => evt('payment.settled', p.id)),
        evt('credit.topped_up', topUpRow.id),
        evt('credit.topped_up', meteredRow.id),
        evt('payment.refunded', meteredRow.id),
        evt('credit.topped_up', partRow.id),
        evt('payment.refunded', partRow.id),
        evt('key.created', info.id),
        evt('key.revoked', info.id),
      ])
      expect(expected.size).toBe(11)
      const outbox = paywall.config.ledger.outbox as NonNullable<Paywall['config']['ledger']['outbox']>

      // Refused connections: every event has a delivery, tried and still pending.
      await until(async () => {
        const { deliveries } = await outbox.deliveries({ limit: 50 })
        return deliveries.length === 11 && deliveries.every((d) => d.attempts >= 1 && d.status === 'pending')
      }, 'eleven refused attempts')
      const refused = await outbox.deliveries({ limit: 50 })
      expect(new Set(refused.deliveries.map((d) => d.eventId))).toEqual(expected)
      expect(refused.deliveries.every((d) => /ECONNREFUSED/.test(d.lastError ?? ''))).toBe(true)

      // Up, answering 503: each event is attempted again, then up for good.
      await receiver.up(503)
      await until(
        () => new Set(receiver.received.map((r) => r.headers['webhook-id'])).size === 11,
        'an answered attempt of each event',
      )
      receiver.answer(204)
      await until(
        async () => (await outbox.deliveries({ status: 'delivered', limit: 50 })).deliveries.length === 11,
        'all delivered',
      )

      const events = verifiedAll(receiver.received, secret)
      expect(new Set(events.keys())).toEqual(expected)
      // Stable: an id answered 503 came again, with the same body, and was then answered 204.
      for (const id of expected) {
        const attempts = receiver.received.filter((r) => r.headers['webhook-id'] === id)
        expect(attempts.map((a) => a.answered)).toContain(503)
        expect(attempts.at(-1)?.answered).toBe(204)
        expect(new Set(attempts.map((a) => a.body)).size).toBe(1)
      }
      const delivered = await outbox.deliveries({ status: 'delivered', limit: 50 })
      expect(delivered.deliveries.every((d) => d.attempts >= 3)).toBe(true)

      // payment.settled: the amount, the payer and the transaction, as the chain has them.
      expect(events.get(evt('payment.settled', exactRow.id))).toMatchObject({
        type: 'payment.settled',
        data: {
          paymentId: exactRow.id,
          state: 'settled',
          amount: '0.01',
          amountAtomic: '10000',
          payer: buyer(0).address.toLowerCase(),
          payTo: stack.chain.payTo.address,
          asset: stack.chain.usdc.toLowerCase(),
          network: 'eip155:31337',
          transaction: exact.transaction,
          resource: `${base}/api/data`,
        },
      })
      const receipt = await stack.chain.publicClient.getTransactionReceipt({ hash: exact.transaction })
      expect(receipt.status).toBe('success')
      const transfers = parseEventLogs({
        abi: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']),
        logs: receipt.logs.filter((l) => l.address.toLowerCase() === stack.chain.usdc.toLowerCase()),
      })
      expect(transfers.map((t) => [t.args.from.toLowerCase(), t.args.to, t.args.value])).toEqual([
        [buyer(0).address.toLowerCase(), stack.chain.payTo.address, 10_000n],
      ])
      expect(events.get(evt('credit.topped_up', topUpRow.id))?.data).toMatchObject({
        paymentId: topUpRow.id,
        payer: buyer(1).address,
        amount: '0.5',
      })
      expect(events.get(evt('payment.refunded', meteredRow.id))?.data).toMatchObject({
        paymentId: meteredRow.id,
        payer: buyer(2).address,
        amount: '0.0097',
        refund: 'credit',
      })
      expect(events.get(evt('payment.refunded', partRow.id))?.data).toMatchObject({
        paymentId: partRow.id,
        amount: '0.004',
        reason: 'operations that failed entirely',
        refund: 'credit',
      })
      expect(events.get(evt('key.created', info.id))?.data).toMatchObject({
        keyId: info.id,
        name: 'acme',
        plan: 'free',
      })
      expect(events.get(evt('key.revoked', info.id))?.data).toEqual({ keyId: info.id })
    } finally {
      await close(server)
      server = undefined
      await receiver.close()
    }
  }, 120_000)
})

describe('webhooks after a crash of the seller (SIGKILL)', () => {
  let child: ChildProcess | undefined
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
  })
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'webhook-crash', 'server.mjs')

  /** The event ids a SQLite file holds in `table`, read directly. */
  const rows = (path: string, table: string) => {
    const db = openSqlite(path)
    try {
      return new Set((db.prepare(`SELECT id FROM ${table}`).all() as { id: string }[]).map((r) => r.id))
    } finally {
      db.close()
    }
  }
  /** The event ids committed for the ledger: its outbox, and the stores' own file when they have one. */
  const committed = async (ledger: string, stores?: string): Promise<Set<string>> => {
    if (!ledger.startsWith('postgres'))
      return new Set([...rows(ledger, 'webhook_events'), ...(stores ? rows(stores, 'webhook_relay') : [])])
    const sql = postgres(ledger, { max: 1, onnotice: () => {} })
    try {
      return new Set((await sql<{ id: string }[]>`select id from x402_webhook_events`).map((r) => r.id))
    } finally {
      await sql.end({ timeout: 1 })
    }
  }

  const backends: { name: string; ledger(): Promise<{ url: string; drop(): Promise<void> }>; stores?: boolean }[] = [
    { name: 'SQLite', ledger: async () => ({ url: stack.paywall().ledger, drop: async () => {} }) },
    {
      name: 'SQLite, credit and keys in a file of their own',
      ledger: async () => ({ url: stack.paywall().ledger, drop: async () => {} }),
      stores: true,
    },
    ...(databaseUrl ? [{ name: 'PostgreSQL', ledger: () => freshSchema(databaseUrl) }] : []),
  ]
  for (const backend of backends) {
    it(`${backend.name}: events committed before the kill are sent by the next process, none lost`, async () => {
      const receiver = await startReceiver()
      const secret = generateWebhookSecret()
      const ledger = await backend.ledger()
      const stores = backend.stores ? `${ledger.url}.stores.db` : undefined
      await receiver.down()
      let next: Paywall | undefined
      try {
        const seller = await startScript(fixture, {
          cwd: devFolder(stack),
          env: {
            LEDGER: ledger.url,
            HOOK_URL: receiver.url,
            HOOK_SECRET: secret,
            ...(stores ? { STORES: stores } : {}),
          },
        })
        child = seller.child
        await paid(seller.url, '/__402x/credits?amount=0.25', 3, { method: 'POST' })
        const json = { 'content-type': 'application/json' }
        const made = await fetch(`${seller.url}/__402x/admin/keys`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ name: 'crash', plan: 'free' }),
        })
        expect(made.status).toBe(201)
        const keyId = ((await made.json()) as { info: { id: string } }).info.id
        expect((await fetch(`${seller.url}/__402x/admin/keys/${keyId}/revoke`, { method: 'POST' })).status).toBe(200)
        // Killed right after its last answer: nothing was sent (the receiver was down).
        child.kill('SIGKILL')
        await new Promise((resolve) => child?.once('exit', resolve))
        expect(receiver.received).toEqual([])

        const settings = { ...stack.paywall(), ledger: ledger.url }
        const reader = createPaywall({ ...settings, price: 0.01 })
        const [payment] = await reader.config.ledger.list()
        await reader.close()
        if (!payment) throw new Error('the top-up payment is in the ledger')
        const expected = new Set([
          evt('payment.settled', payment.id),
          evt('credit.topped_up', payment.id),
          evt('key.created', keyId),
          evt('key.revoked', keyId),
        ])
        // Committed with the changes they report, before any restart: in the ledger's outbox,
        // or (credit and keys elsewhere) in their own file, to be moved.
        expect(await committed(ledger.url, stores)).toEqual(expected)
        if (stores) expect(rows(stores, 'webhook_relay').size).toBe(3)

        await receiver.up(204)
        next = createPaywall({
          ...settings,
          routes: { 'GET /api/data': 0.01 },
          keys: { plans: [plans.free()], ...(stores ? { store: stores, usage: stores } : {}) },
          ...(stores ? { credits: { path: stores } } : {}),
          webhooks: [{ url: receiver.url, events: ['*'], secret }],
          webhookDelivery: fast,
        })
        await until(() => new Set(receiver.received.map((r) => r.headers['webhook-id'])).size === 4, 'the four events')
        const events = verifiedAll(receiver.received, secret)
        expect(new Set(events.keys())).toEqual(expected)
        expect(events.get(evt('credit.topped_up', payment.id))?.data).toMatchObject({
          amount: '0.25',
          payer: buyer(3).address,
        })
      } finally {
        if (child && child.exitCode === null) child.kill('SIGKILL')
        await next?.close()
        await receiver.close()
        await ledger.drop()
      }
    }, 90_000)
  }
})
