import type { SqliteDb } from '../ledger/openSqlite.js'
import { applySqliteSchema, type SqliteSchemaComponent, sqlMigration } from '../stores/sqliteSchema.js'
import { eventBody, eventFromBody } from './eventIds.js'
import type { StoreEvent, StoreEvents } from './types.js'

/**
 * `webhook_relay`: the events a credit or key store wrote in the transaction of its change,
 * per ledger outbox, until the webhook worker has moved them there (component `events`).
 */
export const sqliteEventsComponent: SqliteSchemaComponent = {
  component: 'events',
  migrations: [
    sqlMigration(
      1,
      'store events',
      `CREATE TABLE IF NOT EXISTS webhook_relay (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        outbox TEXT NOT NULL,
        type TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS webhook_relay_outbox ON webhook_relay (outbox, seq);`,
    ),
  ],
}

/**
 * A SQLite store's events on its connection (the `events` schema applied here), written
 * inside the store's own transaction, so an event commits with the change it reports or not
 * at all: into the ledger's outbox (`webhook_events`) when the ledger is on this file (`self`,
 * this file's `outboxIdOf`), else into `webhook_relay`, which `source` gives the webhook worker.
 *
 * @example
 * const relay = sqliteStoreEvents(db, outboxIdOf({ path }))
 * atomically(() => { post(…); relay.write(input.events) })
 */
export function sqliteStoreEvents(
  db: SqliteDb,
  self: string,
): {
  write(events: readonly StoreEvent[] | undefined): void
  source: StoreEvents
} {
  applySqliteSchema(db, sqliteEventsComponent)
  const relay = db.prepare(
    'INSERT OR IGNORE INTO webhook_relay (id, outbox, type, created_at, body) VALUES (?, ?, ?, ?, ?)',
  )
  // Prepared on first use: the ledger's tables are in this file only when the ledger is.
  let outbox: ReturnType<SqliteDb['prepare']> | undefined
  const take = db.prepare('SELECT id, type, created_at, body FROM webhook_relay WHERE outbox = ? ORDER BY seq LIMIT ?')
  const drop = db.prepare('DELETE FROM webhook_relay WHERE id = ?')
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return {
    write(events) {
      for (const e of events ?? []) {
        if (e.outbox === self) {
          outbox ??= db.prepare('INSERT OR IGNORE INTO webhook_events (id, type, created_at, body) VALUES (?, ?, ?, ?)')
          outbox.run(e.id, e.type, e.timestamp, eventBody(e))
        } else relay.run(e.id, e.outbox, e.type, e.timestamp, eventBody(e))
      }
    },
    source: {
      take: (outbox, limit) =>
        guard(() =>
          (take.all(outbox, limit) as { id: string; type: string; created_at: number; body: string }[]).map(
            eventFromBody,
          ),
        ),
      drop: (ids) =>
        guard(() => {
          for (const id of ids) drop.run(id)
        }),
    },
  }
}
