import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { analyticsPathFor } from '../analytics/analyticsPath.js'
import { sqliteAnalyticsComponent } from '../analytics/createSqliteAnalyticsStore.js'
import { sqliteCreditComponent } from '../credits/schema.js'
import { sqliteKeyComponent, sqliteUsageComponent } from '../keys/sqliteKeySchema.js'
import { openSqlite, type SqliteDb } from '../ledger/openSqlite.js'
import { sqliteLedgerComponent } from '../ledger/sqliteLedgerSchema.js'
import type { Migrated } from '../postgres/migrate.js'
import { sqliteEventsComponent } from '../webhooks/sqliteStoreEvents.js'
import { applySqliteSchema, type SqliteSchemaComponent, sqliteVersion } from './sqliteSchema.js'

/**
 * Every store's schema on SQLite, in the order `402x migrate` applies them, with the file it
 * lives in: the ledger's file (the ledger, credit, keys, usage and the events the credit and
 * key stores write for the webhooks share it by default), or
 * the analytics file beside it (`ledger.db` → `ledger.analytics.db`).
 */
export const allSqliteSchemas: readonly { schema: SqliteSchemaComponent; file: 'ledger' | 'analytics' }[] = [
  { schema: sqliteLedgerComponent, file: 'ledger' },
  { schema: sqliteCreditComponent, file: 'ledger' },
  { schema: sqliteKeyComponent, file: 'ledger' },
  { schema: sqliteUsageComponent, file: 'ledger' },
  { schema: sqliteEventsComponent, file: 'ledger' },
  { schema: sqliteAnalyticsComponent, file: 'analytics' },
]

const fileOf = (ledgerPath: string, file: 'ledger' | 'analytics') =>
  file === 'ledger' ? ledgerPath : analyticsPathFor(ledgerPath)

function open(path: string): SqliteDb {
  mkdirSync(dirname(path), { recursive: true })
  const db = openSqlite(path)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec('PRAGMA journal_mode = WAL')
  return db
}

/**
 * Brings a SQLite ledger file, and the analytics file beside it, up to every schema this
 * 402x knows (`402x migrate` on SQLite; each store also does its own when it opens the file).
 * Refuses a file written by a newer release.
 *
 * @example
 * const done = migrateSqliteDatabase('.402x/ledger.db')
 * // [{ component: 'ledger', from: 0, to: 3 }, …, { component: 'analytics', from: 0, to: 1 }]
 */
export function migrateSqliteDatabase(ledgerPath: string): Migrated[] {
  const done: Migrated[] = []
  const dbs = new Map<string, SqliteDb>()
  try {
    for (const { schema, file } of allSqliteSchemas) {
      const path = fileOf(ledgerPath, file)
      let db = dbs.get(path)
      if (!db) {
        db = open(path)
        dbs.set(path, db)
      }
      const migrated = applySqliteSchema(db, schema)
      if (migrated) done.push(migrated)
    }
  } finally {
    for (const db of dbs.values()) db.close()
  }
  return done
}

/** The versions a SQLite ledger (and its analytics file) is at, per component (0: not there yet); creates nothing. */
export function sqliteSchemaVersions(ledgerPath: string): Record<string, number> {
  const versions: Record<string, number> = {}
  const dbs = new Map<string, SqliteDb | undefined>()
  try {
    for (const { schema, file } of allSqliteSchemas) {
      const path = fileOf(ledgerPath, file)
      if (!dbs.has(path)) dbs.set(path, existsSync(path) ? openSqlite(path) : undefined)
      const db = dbs.get(path)
      versions[schema.component] = db ? sqliteVersion(db, schema.component) : 0
    }
  } finally {
    for (const db of dbs.values()) db?.close()
  }
  return versions
}
