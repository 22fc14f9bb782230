import type postgres from 'postgres'
import type { Pg } from '../postgres/openPostgres.js'
import { eventBody, stableId } from './eventIds.js'
import { subscribed, toDelivery } from './sqliteOutbox.js'
import { live, storedWebhook, type WebhookRow, withOwn } from './storedWebhook.js'
import type { OutboxEvent, Webhook, WebhookOutbox } from './types.js'

/** The database's clock in ms: the leases run on it, the same for every instance. */
const dbNow = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

/** Writes events in the transaction (or on the pool) given: idempotent by id. */
export async function insertEvents(tx: Pg | postgres.TransactionSql<{ bigint: bigint }>, events: OutboxEvent[]) {
  for (const e of events) {
    await tx`insert into x402_webhook_events (id, type, created_at, body)
      values (${e.id}, ${e.type}, ${e.timestamp}, ${eventBody(e)}) on conflict do nothing`
  }
}

/**
 * The outbox on the PostgreSQL ledger's pool (`run` waits for the schema and maps faults).
 * Rows are picked `for update skip locked`: instances sharing the database split the due
 * deliveries between them, and the lease keeps one from being sent twice at once.
 *
 * @example
 * const outbox = createPostgresOutbox(sql, run, outboxIdOf({ url }))
 */
export function createPostgresOutbox(sql: Pg, run: <T>(fn: () => Promise<T>) => Promise<T>, id: string): WebhookOutbox {
  const saved = async () =>
    (await sql<WebhookRow[]>`select * from x402_webhooks order by created_at`).map(storedWebhook)
  const columns = sql.unsafe(
    'd.seq, d.id, d.event_id, d.webhook_id, d.type, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, e.body',
  )
  return {
    id,
    paymentEvents: undefined,
    enqueue: (events) => run(() => insertEvents(sql, events)),
    dispatch: (code, limit, unseenSince) =>
      run(() =>
        sql.begin(async (tx) => {
          const fresh = await tx<{ id: string; type: string; created_at: bigint }[]>`
            select id, type, created_at from x402_webhook_events where not dispatched
            order by seq limit ${limit} for update skip locked`
          if (fresh.length === 0) return 0
          const hooks = withOwn<Pick<Webhook, 'id' | 'events'>>(code, (await saved()).filter(live(unseenSince)))
          const now = Date.now()
          for (const event of fresh) {
            for (const hook of hooks) {
              if (!subscribed(hook.events, event.type)) continue
              await tx`insert into x402_webhook_deliveries
                  (id, event_id, webhook_id, type, status, next_attempt_at, created_at)
                values (${stableId('dlv', event.id, hook.id)}, ${event.id}, ${hook.id}, ${event.type}, 'pending',
                  ${now}, ${event.created_at})
                on conflict do nothing`
            }
          }
          await tx`update x402_webhook_events set dispatched = true where id in ${tx(fresh.map((e) => e.id))}`
          return fresh.length
        }),
      ),
    claim: (owner, leaseMs, limit, webhooks) =>
      run(async () => {
        const rows = await sql`with due as (
            select id from x402_webhook_deliveries
            where status = 'pending' and next_attempt_at <= ${Date.now()}
              and (lease_until is null or lease_until <= ${sql.unsafe(dbNow)})
              and webhook_id = any(${[...webhooks]}::text[])
            order by next_attempt_at limit ${limit}
            for update skip locked
          ), leased as (
            update x402_webhook_deliveries d set lease_owner = ${owner},
              lease_until = ${sql.unsafe(dbNow)} + ${leaseMs}
            from due where d.id = due.id returning d.*
          )
          select ${columns} from leased d join x402_webhook_events e on e.id = d.event_id
          order by d.next_attempt_at`
        return rows.map((r) => toDelivery(r as never))
      }),
    finish: (id, owner, outcome) =>
      run(async () => {
        const status = outcome.delivered ? 'delivered' : outcome.retryAt === undefined ? 'failed' : 'pending'
        await sql`update x402_webhook_deliveries set status = ${status}, attempts = attempts + 1,
            last_attempt_at = ${Date.now()},
            last_error = ${outcome.delivered ? null : outcome.error.slice(0, 500)},
            next_attempt_at = coalesce(${outcome.delivered ? null : (outcome.retryAt ?? null)}::bigint, next_attempt_at),
            lease_owner = null, lease_until = null
          where id = ${id} and lease_owner = ${owner} and status = 'pending'`
      }),
    deliveries: ({ status, webhook, limit, cursor }) =>
      run(async () => {
        const rows = await sql`select ${columns} from x402_webhook_deliveries d
          join x402_webhook_events e on e.id = d.event_id
          where (${status ?? null}::text is null or d.status = ${status ?? null})
            and (${webhook ?? null}::text is null or d.webhook_id = ${webhook ?? null})
            and d.seq < ${cursor ? BigInt(cursor) : 2n ** 62n}
          order by d.seq desc limit ${limit + 1}`
        const page = rows.slice(0, limit)
        const last = page.at(-1) as { seq: bigint } | undefined
        return {
          deliveries: page.map((r) => toDelivery(r as never)),
          ...(rows.length > limit && last ? { next: String(last.seq) } : {}),
        }
      }),
    replay: (id) =>
      run(async () => {
        const rows = await sql`update x402_webhook_deliveries set status = 'pending', next_attempt_at = ${Date.now()},
            lease_owner = null, lease_until = null where id = ${id} returning id`
        return rows.length === 1
      }),
    health: () =>
      run(async () => {
        const rows = await sql<{ webhook_id: string; pending: number; last_error: string | null }[]>`
          select d.webhook_id, count(*) filter (where d.status = 'pending')::int as pending,
            (select l.last_error from x402_webhook_deliveries l where l.webhook_id = d.webhook_id
              and l.last_attempt_at is not null order by l.last_attempt_at desc limit 1) as last_error
          from x402_webhook_deliveries d group by d.webhook_id`
        return new Map(
          rows.map((r) => [
            r.webhook_id,
            {
              pending: r.pending,
              failing: r.last_error !== null,
              ...(r.last_error ? { lastError: r.last_error } : {}),
            },
          ]),
        )
      }),
    saved: () => run(saved),
    save: (hook) =>
      run(async () => {
        await sql`insert into x402_webhooks (id, url, events, secret, created_at, source)
          values (${hook.id}, ${hook.url}, ${JSON.stringify(hook.events)}, ${hook.secret}, ${hook.createdAt}, 'admin')`
      }),
    publish: (hooks, now) =>
      run(async () => {
        // Never the secret, and never over an admin row.
        for (const h of hooks)
          await sql`insert into x402_webhooks (id, url, events, secret, created_at, source, seen_at)
            values (${h.id}, ${h.url}, ${JSON.stringify(h.events)}, '', ${now}, ${h.source}, ${now})
            on conflict (id) do update set seen_at = excluded.seen_at where x402_webhooks.source <> 'admin'`
      }),
    sweep: ({ serving, olderThan, dueBefore, unseenSince, error }) =>
      run(async () => {
        const failed = await sql`update x402_webhook_deliveries set status = 'failed', last_error = ${error},
            last_attempt_at = ${Date.now()}
          where status = 'pending' and next_attempt_at < ${dueBefore} and created_at < ${olderThan}
            and (lease_until is null or lease_until <= ${sql.unsafe(dbNow)})
            and not (webhook_id = any(${[...serving]}::text[]))
          returning id`
        await sql`delete from x402_webhooks w where source <> 'admin' and seen_at < ${unseenSince} and not exists
          (select 1 from x402_webhook_deliveries d where d.webhook_id = w.id and d.status = 'pending')`
        return failed.length
      }),
    remove: (id) =>
      run(() =>
        sql.begin(async (tx) => {
          const gone = await tx`delete from x402_webhooks where id = ${id} and source = 'admin' returning id`
          if (gone.length === 0) return false
          await tx`update x402_webhook_deliveries set status = 'failed', last_error = 'the webhook was removed'
            where webhook_id = ${id} and status = 'pending'`
          return true
        }),
      ),
  }
}
