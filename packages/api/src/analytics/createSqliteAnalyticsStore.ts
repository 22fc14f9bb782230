import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { openSqlite } from '../ledger/openSqlite.js'
import { applySqliteSchema, type SqliteSchemaComponent, sqlMigration } from '../stores/sqliteSchema.js'
import type { AnalyticsStore, MinuteRow } from './types.js'

const minutesSql = `
CREATE TABLE IF NOT EXISTS analytics_minutes (
  minute INTEGER NOT NULL,
  dim TEXT NOT NULL,
  key TEXT NOT NULL,
  outcome TEXT NOT NULL,
  requests INTEGER NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (minute, dim, key, outcome)
) WITHOUT ROWID;
`

/** The minute aggregates' schema on SQLite (component `analytics`, as on PostgreSQL), in their own file. */
export const sqliteAnalyticsComponent: SqliteSchemaComponent = {
  component: 'analytics',
  migrations: [sqlMigration(1, 'minutes', minutesSql)],
}

/**
 * Minute aggregates in their own SQLite file beside the ledger (`.402x/analytics.db`), so
 * that writing them never waits on, or holds up, a payment's write. Amounts are decimal
 * strings (exact), added in JavaScript.
 *
 * @example
 * const store = createSqliteAnalyticsStore({ path: '.402x/analytics.db' })
 */
export function createSqliteAnalyticsStore(options: { path: string }): AnalyticsStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
  const db = openSqlite(options.path)
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec('PRAGMA busy_timeout = 5000')
  applySqliteSchema(db, sqliteAnalyticsComponent)
  const get = db.prepare(
    'SELECT requests, amount FROM analytics_minutes WHERE minute = ? AND dim = ? AND key = ? AND outcome = ?',
  )
  const insert = db.prepare(
    'INSERT INTO analytics_minutes (minute, dim, key, outcome, requests, amount) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const update = db.prepare(
    'UPDATE analytics_minutes SET requests = ?, amount = ? WHERE minute = ? AND dim = ? AND key = ? AND outcome = ?',
  )
  const range = db.prepare('SELECT * FROM analytics_minutes WHERE minute >= ? AND minute < ?')
  const prune = db.prepare('DELETE FROM analytics_minutes WHERE minute < ?')
  return {
    async add(rows) {
      if (rows.length === 0) return
      // One write transaction: processes sharing the file each add their own counts.
      db.exec('BEGIN IMMEDIATE')
      try {
        for (const row of rows) {
          const known = get.get(row.minute, row.dim, row.key, row.outcome) as
            | { requests: number | bigint; amount: string }
            | undefined
          if (known) {
            update.run(
              Number(known.requests) + row.requests,
              (BigInt(known.amount) + row.amount).toString(),
              row.minute,
              row.dim,
              row.key,
              row.outcome,
            )
          } else insert.run(row.minute, row.dim, row.key, row.outcome, row.requests, row.amount.toString())
        }
        db.exec('COMMIT')
      } catch (error) {
        db.exec('ROLLBACK')
        throw error
      }
    },
    async read(fromMinute, toMinute) {
      return (
        range.all(fromMinute, toMinute) as {
          minute: number | bigint
          dim: MinuteRow['dim']
          key: string
          outcome: string
          requests: number | bigint
          amount: string
        }[]
      ).map((row) => ({
        minute: Number(row.minute),
        dim: row.dim,
        key: row.key,
        outcome: row.outcome,
        requests: Number(row.requests),
        amount: BigInt(row.amount),
      }))
    },
    async prune(beforeMinute) {
      prune.run(beforeMinute)
    },
    async close() {
      db.close()
    },
  }
}
