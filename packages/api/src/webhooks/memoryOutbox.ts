import { eventBody, stableId } from './eventIds.js'
import { outboxIdOf } from './outboxId.js'
import { subscribed } from './sqliteOutbox.js'
import { live, withOwn } from './storedWebhook.js'
import type { Delivery, OutboxEvent, StoredWebhook, Webhook, WebhookOutbox } from './types.js'

type Row = Delivery & { seq: number; leaseOwner?: string; leaseUntil?: number; lastAttemptAt?: number }

/**
 * The outbox of the memory ledger: one process, nothing survives a restart.
 *
 * @example
 * const outbox = createMemoryOutbox()
 */
export function createMemoryOutbox(): WebhookOutbox & { insertNow(events: OutboxEvent[]): void } {
  const events = new Map<string, { event: OutboxEvent; body: string; dispatched: boolean }>()
  const deliveries = new Map<string, Row>()
  const hooks = new Map<string, StoredWebhook>()
  let seq = 0
  const insertNow = (list: OutboxEvent[]) => {
    for (const event of list)
      if (!events.has(event.id)) events.set(event.id, { event, body: eventBody(event), dispatched: false })
  }
  const out = (row: Row): Delivery => {
    const { seq: _s, leaseOwner: _o, leaseUntil: _u, lastAttemptAt: _a, ...delivery } = row
    return { ...delivery }
  }
  return {
    id: outboxIdOf(undefined),
    paymentEvents: undefined,
    insertNow,
    enqueue: async (list) => insertNow(list),
    dispatch: async (code, limit, unseenSince) => {
      const fresh = [...events.values()].filter((e) => !e.dispatched).slice(0, limit)
      const all = withOwn<Pick<Webhook, 'id' | 'events'>>(code, [...hooks.values()].filter(live(unseenSince)))
      for (const entry of fresh) {
        const { event } = entry
        for (const hook of all) {
          const id = stableId('dlv', event.id, hook.id)
          if (!subscribed(hook.events, event.type) || deliveries.has(id)) continue
          seq += 1
          deliveries.set(id, {
            seq,
            id,
            eventId: event.id,
            webhookId: hook.id,
            type: event.type,
            status: 'pending',
            attempts: 0,
            nextAttemptAt: Date.now(),
            createdAt: event.timestamp,
            body: entry.body,
          })
        }
        entry.dispatched = true
      }
      return fresh.length
    },
    claim: async (owner, leaseMs, limit, webhooks) => {
      const now = Date.now()
      const serving = new Set(webhooks)
      const due = [...deliveries.values()]
        .filter(
          (d) =>
            d.status === 'pending' && d.nextAttemptAt <= now && (d.leaseUntil ?? 0) <= now && serving.has(d.webhookId),
        )
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
        .slice(0, limit)
      for (const d of due) Object.assign(d, { leaseOwner: owner, leaseUntil: now + leaseMs })
      return due.map(out)
    },
    finish: async (id, owner, outcome) => {
      const d = deliveries.get(id)
      if (!d || d.leaseOwner !== owner || d.status !== 'pending') return
      d.attempts += 1
      d.lastAttemptAt = Date.now()
      delete d.leaseOwner
      delete d.leaseUntil
      if (outcome.delivered) {
        d.status = 'delivered'
        delete d.lastError
        return
      }
      d.lastError = outcome.error.slice(0, 500)
      if (outcome.retryAt === undefined) d.status = 'failed'
      else d.nextAttemptAt = outcome.retryAt
    },
    deliveries: async ({ status, webhook, limit, cursor }) => {
      const before = cursor ? Number(cursor) : Number.MAX_SAFE_INTEGER
      const rows = [...deliveries.values()]
        .filter((d) => (!status || d.status === status) && (!webhook || d.webhookId === webhook) && d.seq < before)
        .sort((a, b) => b.seq - a.seq)
      const page = rows.slice(0, limit)
      const last = page.at(-1)
      return { deliveries: page.map(out), ...(rows.length > limit && last ? { next: String(last.seq) } : {}) }
    },
    replay: async (id) => {
      const d = deliveries.get(id)
      if (!d) return false
      Object.assign(d, { status: 'pending', nextAttemptAt: Date.now() })
      delete d.leaseOwner
      delete d.leaseUntil
      return true
    },
    health: async () => {
      const map = new Map<string, { pending: number; failing: boolean; lastError?: string; at: number }>()
      for (const d of deliveries.values()) {
        const h = map.get(d.webhookId) ?? { pending: 0, failing: false, at: -1 }
        if (d.status === 'pending') h.pending += 1
        if (d.lastAttemptAt !== undefined && d.lastAttemptAt >= h.at) {
          h.at = d.lastAttemptAt
          h.failing = d.lastError !== undefined
          if (d.lastError) h.lastError = d.lastError
          else delete h.lastError
        }
        map.set(d.webhookId, h)
      }
      return new Map([...map].map(([id, { at: _at, ...h }]) => [id, h]))
    },
    saved: async () => [...hooks.values()].map((h) => ({ ...h })),
    save: async (hook) => {
      hooks.set(hook.id, { ...hook, source: 'admin' })
    },
    publish: async (list, now) => {
      for (const { secret: _secret, ...hook } of list) {
        const had = hooks.get(hook.id)
        if (had?.source === 'admin') continue
        hooks.set(hook.id, { ...hook, createdAt: had?.createdAt ?? now, seenAt: now })
      }
    },
    sweep: async ({ serving, olderThan, dueBefore, unseenSince, error }) => {
      const known = new Set(serving)
      const now = Date.now()
      let failed = 0
      for (const d of deliveries.values()) {
        if (d.status !== 'pending' || d.nextAttemptAt >= dueBefore || d.createdAt >= olderThan) continue
        if ((d.leaseUntil ?? 0) > now || known.has(d.webhookId)) continue
        Object.assign(d, { status: 'failed', lastError: error, lastAttemptAt: now })
        failed += 1
      }
      const waiting = new Set([...deliveries.values()].filter((d) => d.status === 'pending').map((d) => d.webhookId))
      for (const [id, hook] of hooks) if (!live(unseenSince)(hook) && !waiting.has(id)) hooks.delete(id)
      return failed
    },
    remove: async (id) => {
      if (hooks.get(id)?.source !== 'admin' || !hooks.delete(id)) return false
      for (const d of deliveries.values()) {
        if (d.webhookId === id && d.status === 'pending')
          Object.assign(d, { status: 'failed', lastError: 'the webhook was removed' })
      }
      return true
    },
  }
}
