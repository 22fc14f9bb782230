import type postgres from 'postgres'
import { ledgerSchema } from '../ledger/postgresLedgerSchema.js'
import { ensureSchema, type SchemaComponent } from '../postgres/migrate.js'
import { guarded, type Pg } from '../postgres/openPostgres.js'
import { eventBody, eventFromBody } from './eventIds.js'
import type { StoreEvent, StoreEvents } from './types.js'

/**
 * `x402_webhook_relay` (component `events`): the events a credit or key store wrote in the
 * transaction of its change, per ledger outbox, until the webhook worker has moved them there.
 */
export const eventsSchema: SchemaComponent = {
  component: 'events',
  migrations: [
    {
      version: 1,
      name: 'store events',
      sql: `
        create table x402_webhook_relay (
          seq bigint generated always as identity,
          id text primary key,
          outbox text not null,
          type text not null,
          created_at bigint not null,
          body text not null
        );
        create index x402_webhook_relay_outbox on x402_webhook_relay (outbox, seq);`,
    },
  ],
}

/**
 * Writes a store's events inside its transaction (idempotent by id), so that each commits
 * with the change it reports or not at all: into the ledger's outbox (`x402_webhook_events`)
 * when the ledger is in this database (`self`, its `outboxIdOf`), else into
 * `x402_webhook_relay` for the worker to move.
 *
 * @example
 * await sql.begin(async (tx) => { await post(tx, …); await writeStoreEvents(tx, input.events, self) })
 */
export async function writeStoreEvents(
  tx: postgres.TransactionSql<{ bigint: bigint }>,
  events: readonly StoreEvent[] | undefined,
  self: string,
): Promise<void> {
  for (const e of events ?? []) {
    if (e.outbox === self)
      await tx`insert into x402_webhook_events (id, type, created_at, body)
        values (${e.id}, ${e.type}, ${e.timestamp}, ${eventBody(e)}) on conflict do nothing`
    else
      await tx`insert into x402_webhook_relay (id, outbox, type, created_at, body)
        values (${e.id}, ${e.outbox}, ${e.type}, ${e.timestamp}, ${eventBody(e)}) on conflict do nothing`
  }
}

/**
 * The schemas a store that writes events needs on PostgreSQL: the relay's, and the ledger's
 * (its outbox, when the ledger is in the same database).
 *
 * @example
 * await ensureEventSchemas(sql)
 */
export async function ensureEventSchemas(sql: Pg): Promise<void> {
  await ensureSchema(sql, ledgerSchema)
  await ensureSchema(sql, eventsSchema)
}

/**
 * The events a PostgreSQL store wrote, for the webhook worker (the schema migrated first).
 *
 * @example
 * const source = postgresStoreEvents(sql, 'credit')
 */
export function postgresStoreEvents(sql: Pg, store: string): StoreEvents {
  const run = <T>(fn: () => Promise<T>) =>
    guarded(sql, store, async () => {
      await ensureEventSchemas(sql)
      return fn()
    })
  return {
    take: (outbox, limit) =>
      run(async () =>
        (
          await sql<{ id: string; type: string; created_at: bigint; body: string }[]>`
            select id, type, created_at, body from x402_webhook_relay where outbox = ${outbox} order by seq limit ${limit}`
        ).map(eventFromBody),
      ),
    drop: (ids) =>
      run(async () => {
        if (ids.length > 0) await sql`delete from x402_webhook_relay where id = any(${[...ids]}::text[])`
      }),
  }
}
