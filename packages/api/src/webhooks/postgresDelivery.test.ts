import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterAll, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import type { Paywall } from '../paywall/createPaywall.js'
import { stableId } from './eventIds.js'
import { startReceiver, until } from './receiver.fixture.js'
import { rolloutScenario, sharedLedgerScenario } from './sharedOutbox.fixture.js'
import { generateWebhookSecret } from './signWebhook.js'
import { fastDelivery, settlePayment, webhookPaywalls } from './webhookPaywalls.fixture.js'

// The outbox on PostgreSQL: two instances share it and send each event once; a restart
// loses nothing.
const databaseUrl = await postgresUrlOrSkip()
const paywalls = webhookPaywalls()
afterAll(() => paywalls.close())

describe.skipIf(!databaseUrl)('webhook delivery (PostgreSQL outbox)', () => {
  it('two paywalls on one database deliver each event once', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const receiver = await startReceiver()
    const secret = generateWebhookSecret()
    try {
      const hooks = [{ url: receiver.url, events: ['payment.settled' as const], secret }]
      const a = paywalls.make({ ledger: schema.url, webhooks: hooks, webhookDelivery: fastDelivery })
      const b = paywalls.make({ ledger: schema.url, webhooks: hooks, webhookDelivery: fastDelivery })
      const payments = []
      for (let i = 0; i < 12; i++) payments.push(await settlePayment(i % 2 === 0 ? a : b))
      const expected = payments.map((p) => stableId('evt', 'payment.settled', p.id)).sort()
      await until(
        async () => {
          const page = await a.config.ledger.outbox?.deliveries({ status: 'delivered', limit: 50 })
          return page?.deliveries.length === 12
        },
        'twelve deliveries',
        30_000,
      )
      const ids = receiver.received.map((r) => r.headers['webhook-id'] as string).sort()
      // Each once: the receiver always answered 2xx, so no attempt had to be made again.
      expect(ids).toEqual(expected)
      for (const got of receiver.received)
        expect(() => new StandardWebhook(secret).verify(got.body, got.headers)).not.toThrow()
      await a.close()
      await b.close()
    } finally {
      await receiver.close()
      await schema.drop()
    }
  }, 60_000)

  it('a restart between record and delivery: the new paywall on the same schema sends what was pending', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const receiver = await startReceiver()
    const secret = generateWebhookSecret()
    try {
      await receiver.down()
      const hooks = [{ url: receiver.url, events: ['*' as const], secret }]
      const first = paywalls.make({ ledger: schema.url, webhooks: hooks, webhookDelivery: fastDelivery })
      const payments = [await settlePayment(first), await settlePayment(first, 'pending')]
      await first.close()
      await receiver.up(200)
      const second = paywalls.make({ ledger: schema.url, webhooks: hooks, webhookDelivery: fastDelivery })
      await until(() => new Set(receiver.received.map((r) => r.headers['webhook-id'])).size === 2, 'both events')
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(
        new Set([
          stableId('evt', 'payment.settled', payments[0]?.id as string),
          stableId('evt', 'payment.pending', payments[1]?.id as string),
        ]),
      )
      await second.close()
    } finally {
      await receiver.close()
      await schema.drop()
    }
  }, 60_000)

  it('a webhook in the code of one instance gets the events another instance fanned out', async () => {
    const schema = await freshSchema(databaseUrl as string)
    try {
      const { c, d } = await sharedLedgerScenario((options) => paywalls.make({ ledger: schema.url, ...options }))
      await c.close()
      await d.close()
    } finally {
      await schema.drop()
    }
  }, 60_000)

  it('during a rollout, events for a webhook only a stopped instance had wait for the next one that has it', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const made: Paywall[] = []
    try {
      await rolloutScenario((options) => {
        const paywall = paywalls.make({ ledger: schema.url, ...options })
        made.push(paywall)
        return paywall
      })
    } finally {
      for (const paywall of made) await paywall.close().catch(() => {})
      await schema.drop()
    }
  }, 60_000)
})
