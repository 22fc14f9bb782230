import { afterAll, describe, expect, it } from 'vitest'
import { call } from '../admin/adminTestPaywalls.js'
import { createMemoryKeyStore } from '../keys/createMemoryKeyStore.js'
import { plans } from '../keys/plans.js'
import type { KeyStore } from '../keys/types.js'
import { createMemoryCreditStore } from '../stores/createMemoryCreditStore.js'
import type { CreditStore } from '../stores/types.js'
import { generateWebhookSecret } from './signWebhook.js'
import { webhookPaywalls } from './webhookPaywalls.fixture.js'

// A credit or key store of the seller's own that cannot write events in its transactions
// (no `webhookEvents`) takes no webhook for them: refused at start-up, or by the admin API,
// with what to do; webhooks for other events run on it as before.
const paywalls = webhookPaywalls()
afterAll(() => paywalls.close())
const secret = generateWebhookSecret()
const hook = (events: string[]) => [{ url: 'http://127.0.0.1:9/hooks', events, secret }] as never

/** A store object without `webhookEvents`: what a seller's own store looks like. */
function bare<T extends { webhookEvents?: unknown }>(store: T): Omit<T, 'webhookEvents'> {
  const { webhookEvents: _events, ...rest } = store
  return rest
}

describe('webhooks on stores that cannot carry their events', () => {
  it('refuses at start-up a webhook for credit.topped_up on a credit store without webhookEvents', () => {
    const credits = bare(createMemoryCreditStore()) as CreditStore
    expect(() => paywalls.make({ stores: { credits }, webhooks: hook(['credit.topped_up']) })).toThrow(
      /webhooks: credit\.topped_up is written in the credit store's own transactions, and the credit store given in code has no webhookEvents/,
    )
    // All events includes it.
    expect(() => paywalls.make({ stores: { credits }, webhooks: hook(['*']) })).toThrow(
      /payment\.refunded|credit\.topped_up/,
    )
    // Other events are fine on it.
    expect(() => paywalls.make({ stores: { credits }, webhooks: hook(['payment.settled']) })).not.toThrow()
  })

  it('refuses key.created at start-up, and from the admin API, on a key store without webhookEvents', async () => {
    const store = bare(createMemoryKeyStore()) as KeyStore
    const keys = { plans: [plans.free()], store }
    expect(() => paywalls.make({ keys, webhooks: hook(['key.revoked']) })).toThrow(/key\.revoked .*key store/)
    const paywall = paywalls.make({ keys, adminToken: 'token', webhooks: hook(['payment.settled']) })
    const refused = await call(paywall, 'POST', '/__402x/admin/webhooks', {
      token: 'token',
      body: { url: 'http://127.0.0.1:9/other', events: ['key.created'] },
    })
    expect(refused.status).toBe(400)
    expect(refused.json).toMatchObject({ error: 'webhook_events_refused' })
    expect(String(refused.json.message)).toMatch(/key\.created is written in the key store's own transactions/)
    // The built-in stores carry them.
    expect(() =>
      paywalls.make({ keys: { plans: [plans.free()], store: createMemoryKeyStore() }, webhooks: hook(['*']) }),
    ).not.toThrow()
  })
})
