import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { afterAll, describe, expect, it } from 'vitest'
import { stableId } from './eventIds.js'
import { startReceiver, until } from './receiver.fixture.js'
import { generateWebhookSecret } from './signWebhook.js'
import { fastDelivery, settlePayment, webhookPaywalls } from './webhookPaywalls.fixture.js'

// Delivery from the SQLite ledger's outbox to a real receiver that is down for a while.
const paywalls = webhookPaywalls()
afterAll(() => paywalls.close())

describe('webhook delivery (SQLite outbox)', () => {
  it('a receiver refusing connections, then answering 500, then up: every event arrives, signed, none lost', async () => {
    const receiver = await startReceiver()
    const secret = generateWebhookSecret()
    try {
      await receiver.down()
      const paywall = paywalls.make({
        webhooks: [{ url: receiver.url, events: ['payment.settled', 'payment.failed'], secret }],
        webhookDelivery: fastDelivery,
      })
      const settled = [await settlePayment(paywall), await settlePayment(paywall), await settlePayment(paywall)]
      const failed = await settlePayment(paywall, 'failed')
      // Not subscribed: never sent.
      await settlePayment(paywall, 'pending')
      const expected = new Set([
        ...settled.map((p) => stableId('evt', 'payment.settled', p.id)),
        stableId('evt', 'payment.failed', failed.id),
      ])
      const webhooks = paywall.config.ledger.outbox
      if (!webhooks) throw new Error('the SQLite ledger has an outbox')
      // Connections refused: attempts fail and stay pending.
      await until(async () => {
        const { deliveries } = await webhooks.deliveries({ limit: 10 })
        return deliveries.length === 4 && deliveries.every((d) => d.attempts >= 1 && d.status === 'pending')
      }, 'four failed attempts')
      const refused = await webhooks.deliveries({ limit: 10 })
      expect(refused.deliveries[0]?.lastError).toMatch(/could not send: .*ECONNREFUSED/)
      // Then 500s.
      await receiver.up(500)
      await until(() => receiver.received.length >= 4, 'attempts answered 500')
      const afterErrors = await webhooks.deliveries({ limit: 10 })
      expect(afterErrors.deliveries.some((d) => /answered 500/.test(d.lastError ?? ''))).toBe(true)
      expect(afterErrors.deliveries.every((d) => d.status === 'pending')).toBe(true)
      // Then up.
      receiver.answer(200)
      await until(async () => {
        const { deliveries } = await webhooks.deliveries({ status: 'delivered', limit: 10 })
        return deliveries.length === 4
      }, 'all four delivered')
      const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']))
      expect(ids).toEqual(expected)
      for (const got of receiver.received) {
        const event = new StandardWebhook(secret).verify(got.body, got.headers) as { type: string; data: object }
        expect(() => new SvixWebhook(secret).verify(got.body, got.headers)).not.toThrow()
        expect(['payment.settled', 'payment.failed']).toContain(event.type)
      }
      // Every id that was answered 2xx arrived once per 2xx (at-least-once, ids stable).
      const ok = receiver.received.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id'])
      expect(new Set(ok)).toEqual(expected)
      const body = JSON.parse(receiver.received.at(-1)?.body ?? '{}')
      expect(body).toMatchObject({ type: expect.any(String), timestamp: expect.any(String), data: expect.any(Object) })
      expect(body.data).toMatchObject({ amount: '0.01', amountAtomic: '10000', network: 'eip155:31337' })
    } finally {
      await receiver.close()
    }
  }, 60_000)

  it('a restart between record and delivery: the new paywall on the same file sends what was pending', async () => {
    const receiver = await startReceiver()
    const secret = generateWebhookSecret()
    const ledger = `${paywalls.dir}/restart.db`
    try {
      await receiver.down()
      const hooks = [{ url: receiver.url, events: ['*' as const], secret }]
      const first = paywalls.make({ ledger, webhooks: hooks, webhookDelivery: fastDelivery })
      const payments = [await settlePayment(first), await settlePayment(first)]
      await first.close()
      await receiver.up(204)
      const second = paywalls.make({ ledger, webhooks: hooks, webhookDelivery: fastDelivery })
      const expected = new Set(payments.map((p) => stableId('evt', 'payment.settled', p.id)))
      await until(
        () =>
          new Set(receiver.received.filter((r) => r.answered === 204).map((r) => r.headers['webhook-id'])).size === 2,
        'both events after the restart',
      )
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(expected)
      for (const got of receiver.received)
        expect(() => new StandardWebhook(secret).verify(got.body, got.headers)).not.toThrow()
      await second.close()
    } finally {
      await receiver.close()
    }
  }, 60_000)

  it('a move the ledger refuses writes no event', async () => {
    const paywall = paywalls.make({
      ledger: `${paywalls.dir}/rollback.db`,
      webhooks: [{ url: 'http://127.0.0.1:9/hooks', events: ['*'], secret: generateWebhookSecret() }],
      webhookDelivery: fastDelivery,
    })
    const payment = await settlePayment(paywall)
    // A second move to settled is refused by the ledger: nothing new in the outbox.
    expect(await paywall.config.ledger.transition(payment.id, 'settled')).toBe(false)
    const outbox = paywall.config.ledger.outbox
    // Both moves were written before this: once the first delivery was tried, all are fanned out.
    await until(
      async () => ((await outbox?.deliveries({ limit: 10 }))?.deliveries[0]?.attempts ?? 0) >= 1,
      'an attempt',
    )
    const { deliveries } = (await outbox?.deliveries({ limit: 10 })) ?? { deliveries: [] }
    expect(deliveries.map((d) => d.eventId)).toEqual([stableId('evt', 'payment.settled', payment.id)])
  })
})
