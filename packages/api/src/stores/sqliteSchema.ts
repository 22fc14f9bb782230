import { X402Error } from '@402x/core'
import type { SqliteDb } from '../ledger/openSqlite.js'
import type { Migrated } from '../postgres/migrate.js'

/**
 * One step of a SQLite store's schema. `apply` must also accept a file whose tables an
 * earlier release made before versions were recorded (`CREATE … IF NOT EXISTS`, columns
 * added only when missing): such a file is brought to version 1 by running it.
 */
export type SqliteMigration = { version: number; name: string; apply(db: SqliteDb): void }

/** A SQLite store's schema, versioned on its own, as PostgreSQL's `SchemaComponent`. */
export type SqliteSchemaComponent = { component: string; migrations: readonly SqliteMigration[] }

/** The versions table, in every SQLite file a 402x store writes (the same shape as PostgreSQL's). */
const versionsTable = `CREATE TABLE IF NOT EXISTS x402_schema (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  PRIMARY KEY (component, version)
)`

/** The version of `component` recorded in the file (0: none, or no versions table yet). */
export function sqliteVersion(db: SqliteDb, component: string): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'x402_schema'").get()
  if (!table) return 0
  const row = db.prepare('SELECT MAX(version) AS v FROM x402_schema WHERE component = ?').get(component) as
    | { v: number | bigint | null }
    | undefined
  return Number(row?.v ?? 0)
}

/**
 * Brings one component of a SQLite file up to the versions this code knows, in one
 * `BEGIN IMMEDIATE` (two processes opening the file at once migrate it once: the second
 * reads the versions again once it has the lock, and finds nothing to do). Each migration
 * is recorded in `x402_schema` in the same transaction, so a failure leaves the file as it
 * was. A component at a newer version than this code knows is refused, as on PostgreSQL.
 * Every SQLite store calls it when it opens its file; `402x migrate` calls it for all of them.
 *
 * @example
 * applySqliteSchema(db, sqliteCreditComponent) // { component: 'credits', from: 0, to: 1 } the first time
 */
export function applySqliteSchema(db: SqliteDb, schema: SqliteSchemaComponent): Migrated | undefined {
  const latest = schema.migrations.reduce((max, m) => Math.max(max, m.version), 0)
  const refuseNewer = (from: number) => {
    if (from > latest)
      throw new X402Error('invalid_config', {
        message:
          `the SQLite file's ${schema.component} schema is at version ${from}, newer than this 402x knows (${latest}): ` +
          'it was written by a newer release. Run that release (or newer) on this file, or use another file; 402x does not migrate down.',
        details: { component: schema.component, databaseVersion: from, knownVersion: latest },
      })
  }
  const seen = sqliteVersion(db, schema.component)
  refuseNewer(seen)
  if (seen === latest) return undefined
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(versionsTable)
    const from = sqliteVersion(db, schema.component)
    refuseNewer(from)
    const record = db.prepare('INSERT INTO x402_schema (component, version, name, applied_at) VALUES (?, ?, ?, ?)')
    const pending = [...schema.migrations].filter((m) => m.version > from).sort((a, b) => a.version - b.version)
    for (const m of pending) {
      m.apply(db)
      record.run(schema.component, m.version, m.name, Date.now())
    }
    db.exec('COMMIT')
    return pending.length > 0 ? { component: schema.component, from, to: latest } : undefined
  } catch (error) {
    try {
      db.exec('ROLLBACK')
    } catch {}
    throw error
  }
}

/** A migration that runs SQL (idempotent DDL: `CREATE … IF NOT EXISTS`). */
export const sqlMigration = (version: number, name: string, sql: string): SqliteMigration => ({
  version,
  name,
  apply: (db) => db.exec(sql),
})
