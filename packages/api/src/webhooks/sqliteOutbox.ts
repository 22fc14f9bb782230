import { immediately, type SqliteDb } from '../ledger/openSqlite.js'
import { eventBody, stableId } from './eventIds.js'
import { live, storedWebhook, type WebhookRow, withOwn } from './storedWebhook.js'
import type { Delivery, DeliveryStatus, OutboxEvent, Webhook, WebhookEventType, WebhookOutbox } from './types.js'

type DeliveryRow = {
  seq: number
  id: string
  event_id: string
  webhook_id: string
  type: WebhookEventType
  status: DeliveryStatus
  attempts: number
  next_attempt_at: number
  last_error: string | null
  created_at: number
  body: string
}

export const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  eventId: row.event_id,
  webhookId: row.webhook_id,
  type: row.type,
  status: row.status,
  attempts: Number(row.attempts),
  nextAttemptAt: Number(row.next_attempt_at),
  ...(row.last_error ? { lastError: row.last_error } : {}),
  createdAt: Number(row.created_at),
  body: row.body,
})

/** Whether a webhook subscribed to `events` gets an event of `type`. */
export const subscribed = (events: readonly string[], type: string) => events.includes(type) || events.includes('*')

/**
 * The outbox on the SQLite ledger's connection. `insertNow` writes events inside whatever
 * transaction is open (the ledger's move), the rest runs in its own `BEGIN IMMEDIATE`.
 *
 * @example
 * const outbox = createSqliteOutbox(db, outboxIdOf({ path }))
 */
export function createSqliteOutbox(
  db: SqliteDb,
  id: string,
): WebhookOutbox & { insertNow(events: OutboxEvent[]): void } {
  const insert = db.prepare('INSERT OR IGNORE INTO webhook_events (id, type, created_at, body) VALUES (?, ?, ?, ?)')
  const insertNow = (events: OutboxEvent[]) => {
    for (const e of events) insert.run(e.id, e.type, e.timestamp, eventBody(e))
  }
  const select = `SELECT d.*, e.body FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const saved = () =>
    (db.prepare('SELECT * FROM webhooks ORDER BY created_at').all() as WebhookRow[]).map(storedWebhook)
  return {
    id,
    paymentEvents: undefined,
    insertNow,
    enqueue: (events) => guard(() => immediately(db, () => insertNow(events))),
    dispatch: (code, limit, unseenSince) =>
      guard(() =>
        immediately(db, () => {
          const fresh = db
            .prepare('SELECT id, type, created_at FROM webhook_events WHERE dispatched = 0 ORDER BY seq LIMIT ?')
            .all(limit) as { id: string; type: string; created_at: number }[]
          if (fresh.length === 0) return 0
          const hooks = withOwn<Pick<Webhook, 'id' | 'events'>>(code, saved().filter(live(unseenSince)))
          const add = db.prepare(`INSERT OR IGNORE INTO webhook_deliveries
            (id, event_id, webhook_id, type, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`)
          const mark = db.prepare('UPDATE webhook_events SET dispatched = 1 WHERE id = ?')
          const now = Date.now()
          for (const event of fresh) {
            for (const hook of hooks) {
              if (subscribed(hook.events, event.type))
                add.run(stableId('dlv', event.id, hook.id), event.id, hook.id, event.type, now, event.created_at)
            }
            mark.run(event.id)
          }
          return fresh.length
        }),
      ),
    claim: (owner, leaseMs, limit, webhooks) =>
      guard(() =>
        immediately(db, () => {
          const now = Date.now()
          const rows = db
            .prepare(`${select} WHERE d.status = 'pending' AND d.next_attempt_at <= ?
              AND (d.lease_until IS NULL OR d.lease_until <= ?)
              AND d.webhook_id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at LIMIT ?`)
            .all(now, now, JSON.stringify(webhooks), limit) as DeliveryRow[]
          const lease = db.prepare('UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?')
          for (const row of rows) lease.run(owner, now + leaseMs, row.id)
          return rows.map(toDelivery)
        }),
      ),
    finish: (id, owner, outcome) =>
      guard(() => {
        const now = Date.now()
        const status = outcome.delivered ? 'delivered' : outcome.retryAt === undefined ? 'failed' : 'pending'
        db.prepare(`UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?,
            last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_owner = NULL, lease_until = NULL
          WHERE id = ? AND lease_owner = ? AND status = 'pending'`).run(
          status,
          now,
          outcome.delivered ? null : outcome.error.slice(0, 500),
          outcome.delivered ? null : (outcome.retryAt ?? null),
          id,
          owner,
        )
      }),
    deliveries: ({ status, webhook, limit, cursor }) =>
      guard(() => {
        const rows = db
          .prepare(`${select} WHERE (? IS NULL OR d.status = ?) AND (? IS NULL OR d.webhook_id = ?)
            AND d.seq < ? ORDER BY d.seq DESC LIMIT ?`)
          .all(
            status ?? null,
            status ?? null,
            webhook ?? null,
            webhook ?? null,
            cursor ? Number(cursor) : Number.MAX_SAFE_INTEGER,
            limit + 1,
          ) as DeliveryRow[]
        const page = rows.slice(0, limit)
        const last = page.at(-1)
        return { deliveries: page.map(toDelivery), ...(rows.length > limit && last ? { next: String(last.seq) } : {}) }
      }),
    replay: (id) =>
      guard(
        () =>
          Number(
            db
              .prepare(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
                lease_until = NULL WHERE id = ?`)
              .run(Date.now(), id).changes,
          ) === 1,
      ),
    health: () =>
      guard(() => {
        const rows = db
          .prepare(`SELECT d.webhook_id, SUM(d.status = 'pending') AS pending,
              (SELECT l.last_error FROM webhook_deliveries l WHERE l.webhook_id = d.webhook_id
                AND l.last_attempt_at IS NOT NULL ORDER BY l.last_attempt_at DESC LIMIT 1) AS last_error
            FROM webhook_deliveries d GROUP BY d.webhook_id`)
          .all() as { webhook_id: string; pending: number; last_error: string | null }[]
        return new Map(
          rows.map((r) => [
            r.webhook_id,
            {
              pending: Number(r.pending),
              failing: r.last_error !== null,
              ...(r.last_error ? { lastError: r.last_error } : {}),
            },
          ]),
        )
      }),
    saved: () => guard(saved),
    save: (hook) =>
      guard(() => {
        db.prepare(`INSERT INTO webhooks (id, url, events, secret, created_at, source)
          VALUES (?, ?, ?, ?, ?, 'admin')`).run(
          hook.id,
          hook.url,
          JSON.stringify(hook.events),
          hook.secret,
          hook.createdAt,
        )
      }),
    publish: (hooks, now) =>
      guard(() =>
        immediately(db, () => {
          // Never the secret, and never over an admin row.
          const upsert = db.prepare(`INSERT INTO webhooks (id, url, events, secret, created_at, source, seen_at)
            VALUES (?, ?, ?, '', ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at WHERE webhooks.source <> 'admin'`)
          for (const h of hooks) upsert.run(h.id, h.url, JSON.stringify(h.events), now, h.source, now)
        }),
      ),
    sweep: ({ serving, olderThan, dueBefore, unseenSince, error }) =>
      guard(() =>
        immediately(db, () => {
          const failed = Number(
            db
              .prepare(`UPDATE webhook_deliveries SET status = 'failed', last_error = ?, last_attempt_at = ?
              WHERE status = 'pending' AND next_attempt_at < ? AND created_at < ?
                AND (lease_until IS NULL OR lease_until <= ?)
                AND webhook_id NOT IN (SELECT value FROM json_each(?))`)
              .run(error, Date.now(), dueBefore, olderThan, Date.now(), JSON.stringify(serving)).changes,
          )
          db.prepare(`DELETE FROM webhooks WHERE source <> 'admin' AND seen_at < ? AND NOT EXISTS
            (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id AND d.status = 'pending')`).run(
            unseenSince,
          )
          return failed
        }),
      ),
    remove: (id) =>
      guard(() =>
        immediately(db, () => {
          const gone =
            Number(db.prepare("DELETE FROM webhooks WHERE id = ? AND source = 'admin'").run(id).changes) === 1
          if (gone)
            db.prepare(`UPDATE webhook_deliveries SET status = 'failed', last_error = 'the webhook was removed'
              WHERE webhook_id = ? AND status = 'pending'`).run(id)
          return gone
        }),
      ),
  }
}
