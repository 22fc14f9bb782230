import { expect } from 'vitest'
import { call } from '../admin/adminTestPaywalls.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { stableId } from './eventIds.js'
import { startReceiver, until } from './receiver.fixture.js'
import { generateWebhookSecret } from './signWebhook.js'
import { fastDelivery, settlePayment } from './webhookPaywalls.fixture.js'

const token = 'admin-token-for-tests'

/** The ids a receiver answered 2xx, once each. */
const delivered = (receiver: Awaited<ReturnType<typeof startReceiver>>) =>
  new Set(receiver.received.filter((r) => r.answered < 300).map((r) => r.headers['webhook-id']))

/**
 * Two paywalls on one ledger (a SQLite file or a PostgreSQL schema), C with a webhook in
 * its code, D with none, and one webhook registered with D's admin API; ten payments settle,
 * half on each. Every event must reach both receivers, whichever worker fanned it out.
 */
export async function sharedLedgerScenario(make: (options: Partial<PaywallOptions>) => Paywall) {
  const codeReceiver = await startReceiver()
  const adminReceiver = await startReceiver()
  try {
    const secret = generateWebhookSecret()
    const c = make({
      webhooks: [{ url: codeReceiver.url, events: ['payment.settled'], secret }],
      // D polls more often: it fans out most events, C's included.
      webhookDelivery: { ...fastDelivery, pollIntervalMs: 400 },
    })
    const d = make({ adminToken: token, webhookDelivery: fastDelivery })
    const added = await call(d, 'POST', '/__402x/admin/webhooks', {
      token,
      body: { url: adminReceiver.url, events: ['payment.settled'] },
    })
    expect(added.status).toBe(201)
    const payments = []
    for (let i = 0; i < 10; i++) payments.push(await settlePayment(i % 2 === 0 ? c : d))
    const expected = new Set(payments.map((p) => stableId('evt', 'payment.settled', p.id)))
    await until(() => delivered(adminReceiver).size === 10, 'ten events at the admin webhook')
    await until(() => delivered(codeReceiver).size === 10, 'ten events at the code webhook of C')
    expect(delivered(codeReceiver)).toEqual(expected)
    expect(delivered(adminReceiver)).toEqual(expected)
    // The code webhook is listed by D too, as code (not removable there), and never its secret.
    const listed = await call(d, 'GET', '/__402x/admin/webhooks', { token })
    const hooks = listed.json.webhooks as { id: string; source: string; url: string }[]
    expect(hooks.map((h) => [h.source, h.url]).sort()).toEqual([
      ['admin', adminReceiver.url],
      ['code', codeReceiver.url],
    ])
    expect(JSON.stringify(listed.json)).not.toContain(secret)
    const codeHook = hooks.find((h) => h.source === 'code')
    const removed = await call(d, 'DELETE', `/__402x/admin/webhooks/${codeHook?.id}`, { token })
    expect(removed.status).toBe(400)
    expect(removed.json).toMatchObject({ reason: 'webhook_not_removable' })
    return { c, d }
  } finally {
    await codeReceiver.close()
    await adminReceiver.close()
  }
}

/**
 * A rollout: C, the only paywall with a webhook in its code, stops; D, without it, goes on
 * taking payments. D fans them out to C's webhook and leaves them pending (it cannot sign
 * for it), and the next paywall with that webhook in its code sends them all.
 */
export async function rolloutScenario(make: (options: Partial<PaywallOptions>) => Paywall) {
  const receiver = await startReceiver()
  try {
    const secret = generateWebhookSecret()
    const hooks = [{ url: receiver.url, events: ['payment.settled' as const], secret }]
    const c = make({ webhooks: hooks, webhookDelivery: fastDelivery })
    const d = make({ webhookDelivery: fastDelivery })
    await until(async () => ((await d.config.ledger.outbox?.saved()) ?? []).length === 1, 'C publishing its webhook')
    await c.close()
    // D writes the events C's webhook listens to from its next poll on.
    await until(() => d.config.ledger.outbox?.paymentEvents !== undefined, 'D reading the webhooks table')
    const payments = [await settlePayment(d), await settlePayment(d), await settlePayment(d)]
    const outbox = d.config.ledger.outbox
    await until(
      async () => ((await outbox?.deliveries({ limit: 10 }))?.deliveries.length ?? 0) === 3,
      'D fanning the events out to C’s webhook',
    )
    // D polls every 50 ms: a few rounds in which it must not send nor fail them.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const { deliveries } = (await outbox?.deliveries({ limit: 10 })) ?? { deliveries: [] }
    expect(deliveries.map((x) => [x.status, x.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ])
    make({ webhooks: hooks, webhookDelivery: fastDelivery })
    await until(() => delivered(receiver).size === 3, 'the three events from the new paywall with the webhook')
    expect(delivered(receiver)).toEqual(new Set(payments.map((p) => stableId('evt', 'payment.settled', p.id))))
  } finally {
    await receiver.close()
  }
}
