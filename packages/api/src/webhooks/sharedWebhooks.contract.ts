import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { freshBackends, type OpenBackend } from '../stores/contract.fixture.js'
import type { PaymentLedger } from '../stores/types.js'
import { resolveWebhooks } from './resolveWebhooks.js'
import { generateWebhookSecret } from './signWebhook.js'
import type { OutboxEvent, Webhook, WebhookOutbox } from './types.js'

const hour = 3_600_000
const outboxOf = (ledger: PaymentLedger): WebhookOutbox => {
  if (!ledger.outbox) throw new Error('this ledger has an outbox')
  return ledger.outbox
}
const event = (timestamp = Date.now()): OutboxEvent => ({
  id: `evt_${randomUUID()}`,
  type: 'payment.settled',
  timestamp,
  data: { paymentId: randomUUID() },
})
const codeHook = (url = 'https://billing.example.com/hooks'): Webhook => {
  const [hook] = resolveWebhooks([{ url, events: ['payment.settled'], secret: generateWebhookSecret() }], 'code', false)
  if (!hook) throw new Error('one webhook')
  return hook
}
const adminHook = (): Webhook => ({
  id: `wh_${randomUUID()}`,
  url: 'https://crm.example.com/hooks',
  events: ['*'],
  secret: generateWebhookSecret(),
  createdAt: Date.now(),
  source: 'admin',
})

/**
 * The shared webhooks table of the outbox (`WebhookOutbox`: `publish`, `dispatch`, `claim`,
 * `sweep`), seen from two paywalls on one ledger: one with a webhook in its code, one without.
 */
export function sharedWebhooksContract(name: string, open: OpenBackend<PaymentLedger>) {
  describe(`shared webhooks: ${name}`, () => {
    const fresh = freshBackends(open)

    it('a code webhook one paywall publishes gets the events the other fans out, and its secret stays out of the table', async () => {
      const s = await fresh()
      const [a, b] = [outboxOf(s.a), outboxOf(s.b)]
      const hook = codeHook()
      const now = Date.now()
      await a.publish([hook], now - 1_000)
      await a.publish([hook], now)
      const [stored] = await b.saved()
      expect(stored).toMatchObject({ id: hook.id, url: hook.url, source: 'code', createdAt: now - 1_000, seenAt: now })
      expect(stored?.secret).toBeUndefined()
      expect(JSON.stringify(await b.saved())).not.toContain(hook.secret)
      const e = event()
      await b.enqueue([e])
      // The other paywall has no webhook of its own: it fans out to the table's.
      expect(await b.dispatch([], 100, now - hour)).toBe(1)
      const { deliveries } = await a.deliveries({ webhook: hook.id, limit: 10 })
      expect(deliveries.map((d) => [d.eventId, d.status])).toEqual([[e.id, 'pending']])
      // Not removable as an admin one, and never written over one.
      expect(await b.remove(hook.id)).toBe(false)
      const admin = adminHook()
      await b.save(admin)
      await a.publish([{ ...codeHook(), id: admin.id }], now)
      expect((await a.saved()).find((h) => h.id === admin.id)).toMatchObject({ source: 'admin', secret: admin.secret })
      expect((await b.saved()).map((h) => h.id).sort()).toEqual([admin.id, hook.id].sort())
    })

    it('leases only the deliveries of the webhooks a paywall serves: the others stay pending for their own', async () => {
      const s = await fresh()
      const [a, b] = [outboxOf(s.a), outboxOf(s.b)]
      const hook = codeHook()
      const admin = adminHook()
      await a.publish([hook], Date.now())
      await b.save(admin)
      await b.enqueue([event()])
      await b.dispatch([], 100, Date.now() - hour)
      const byB = await b.claim('b', 60_000, 10, [admin.id])
      expect(byB.map((d) => d.webhookId)).toEqual([admin.id])
      const left = await a.deliveries({ webhook: hook.id, limit: 10 })
      expect(left.deliveries).toMatchObject([{ status: 'pending', attempts: 0 }])
      expect((await a.claim('a', 60_000, 10, [hook.id, admin.id])).map((d) => d.webhookId)).toEqual([hook.id])
      expect(await b.claim('b', 60_000, 10, [])).toEqual([])
    })

    it('fails what no paywall sends once it is old and overdue, stops fanning out to an unseen code webhook, then forgets it', async () => {
      const s = await fresh()
      const [a, b] = [outboxOf(s.a), outboxOf(s.b)]
      const now = Date.now()
      const gone = codeHook()
      const served = codeHook('https://served.example.com/hooks')
      // The paywall that had `gone` left three hours ago.
      await a.publish([gone], now - 3 * hour)
      await a.publish([served], now)
      const old = event(now - 2 * hour)
      const recent = event(now)
      await b.enqueue([old, recent])
      expect(await b.dispatch([], 100, now - 4 * hour)).toBe(2)
      const sweep = (olderThan: number, unseenSince: number) =>
        b.sweep({ serving: [served.id], olderThan, dueBefore: now + 1_000, unseenSince, error: 'nobody sent it' })
      // Of `gone`, the old event's delivery; of `served` (its paywall sends it), nothing.
      expect(await sweep(now - hour, now - 4 * hour)).toBe(1)
      const failed = await b.deliveries({ status: 'failed', limit: 10 })
      expect(failed.deliveries.map((d) => [d.webhookId, d.eventId, d.lastError])).toEqual([
        [gone.id, old.id, 'nobody sent it'],
      ])
      expect((await b.health()).get(gone.id)).toMatchObject({ failing: true, lastError: 'nobody sent it', pending: 1 })
      // Unseen for over an hour: no new delivery for it, and kept while one is pending.
      await b.enqueue([event()])
      expect(await b.dispatch([], 100, now - hour)).toBe(1)
      expect((await b.deliveries({ webhook: gone.id, limit: 10 })).deliveries).toHaveLength(2)
      expect(await sweep(now - hour, now - hour)).toBe(0)
      expect((await b.saved()).map((h) => h.id)).toContain(gone.id)
      // Its last one failed: it is forgotten; the webhook still seen stays.
      expect(await sweep(now + 1_000, now - hour)).toBe(1)
      expect((await a.saved()).map((h) => h.id)).toEqual([served.id])
    })
  })
}
