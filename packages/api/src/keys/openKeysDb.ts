import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { X402Error } from '@402x/core'
import { immediately, openSqlite, type SqliteDb } from '../ledger/openSqlite.js'
import { applySqliteSchema, type SqliteSchemaComponent } from '../stores/sqliteSchema.js'

export type SqliteStoreOptions = {
  /** File path, or `:memory:`. May be the payments ledger's file: the tables do not overlap. */
  path: string
  /**
   * `normal` (WAL): a commit survives a crash of the process; `full` also survives power loss,
   * at an fsync per commit.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full'
  /**
   * The clock (ms epoch) for timestamps.
   * @default Date.now
   */
  now?: () => number
}

/**
 * Opens a SQLite file as the ledger does (the same driver, WAL, busy timeout) and brings the
 * tables of `schema` up to date (`applySqliteSchema`: one `BEGIN IMMEDIATE`, versions recorded). Also returns the helpers each store
 * uses: `guard` (a rejected promise, `store_unavailable` unless the error is already a 402x
 * one), `atomically` (one write transaction) and `dataVersion`.
 */
export function openKeysDb(options: SqliteStoreOptions, schema: SqliteSchemaComponent, what: string) {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
  const db: SqliteDb = openSqlite(options.path)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
  applySqliteSchema(db, schema)
  const dataVersionQuery = db.prepare('PRAGMA data_version')
  /** A failure as the stores report it: `store_unavailable`, unless it is already a 402x error. */
  const fault = (error: unknown) =>
    error instanceof X402Error
      ? error
      : new X402Error('store_unavailable', { message: `the ${what} failed: ${(error as Error).message}`, cause: error })
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(fault(error))
    }
  }
  const atomically = <T>(fn: () => T): T => immediately(db, fn)
  const dataVersion = () => Number((dataVersionQuery.get() as { data_version: number } | undefined)?.data_version ?? 0)
  return { db, guard, atomically, dataVersion, fault }
}
