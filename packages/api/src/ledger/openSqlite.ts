import { createRequire } from 'node:module'

type Params = Record<string, string | number | null>

/** The few SQLite calls the ledger makes, over either driver. */
export type SqliteDb = {
  exec(sql: string): void
  prepare(sql: string): {
    run(...params: (Params | unknown)[]): { changes: number | bigint }
    get(...params: unknown[]): unknown
    all(...params: unknown[]): unknown[]
  }
  close(): void
  /** Whether a transaction is open, where the driver tells (`undefined` where it does not). */
  inTransaction(): boolean | undefined
  /** Which driver is in use. */
  driver: 'better-sqlite3' | 'node:sqlite'
}

const require = createRequire(import.meta.url)

type Ctor = new (
  path: string,
) => {
  exec(sql: string): unknown
  prepare(sql: string): {
    run(...params: unknown[]): { changes: number | bigint }
    get(...params: unknown[]): unknown
    all(...params: unknown[]): unknown[]
  }
  close(): void
}

let chosen: { ctor: Ctor; driver: SqliteDb['driver'] } | undefined

/**
 * better-sqlite3 when its native module loads for this Node; else Node's built-in
 * `node:sqlite` (Node ≥ 22.13), so a failed native build never stops a newer Node.
 */
function pickDriver(): { ctor: Ctor; driver: SqliteDb['driver'] } {
  if (chosen) return chosen
  const errors: string[] = []
  try {
    const BetterSqlite = require('better-sqlite3') as Ctor
    new BetterSqlite(':memory:').close()
    chosen = { ctor: BetterSqlite, driver: 'better-sqlite3' }
    return chosen
  } catch (error) {
    errors.push(`better-sqlite3: ${(error as Error).message}`)
  }
  try {
    // `process.getBuiltinModule` reaches the built-in even inside a bundle (Next.js), where
    // a `require` of `node:sqlite` is rewritten and fails.
    const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule
    const { DatabaseSync } = (builtin?.('node:sqlite') ?? require('node:sqlite')) as { DatabaseSync: Ctor }
    if (!DatabaseSync) throw new Error('this Node has no node:sqlite')
    chosen = { ctor: DatabaseSync, driver: 'node:sqlite' }
    return chosen
  } catch (error) {
    errors.push(`node:sqlite: ${(error as Error).message}`)
  }
  throw new Error(
    `no SQLite driver works here (${errors.join('; ')}): reinstall with \`npm ci\` so better-sqlite3 builds for this Node, or use Node ≥ 22.13`,
  )
}

/** Opens a SQLite database with whichever driver works on this Node. */
export function openSqlite(path: string): SqliteDb {
  const { ctor, driver } = pickDriver()
  const db = new ctor(path)
  return {
    driver,
    exec: (sql) => void db.exec(sql),
    prepare: (sql) => db.prepare(sql),
    close: () => db.close(),
    inTransaction: () => {
      const state = db as { inTransaction?: boolean; isTransaction?: boolean }
      return state.inTransaction ?? state.isTransaction
    },
  }
}

/** Whether an error is a UNIQUE / PRIMARY KEY violation, from either driver. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string }
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    (e.code === 'ERR_SQLITE_ERROR' && /UNIQUE constraint failed/.test(e.message ?? ''))
  )
}

/**
 * Runs `fn` in one `BEGIN IMMEDIATE` transaction: the write lock is taken first, so two
 * connections never both read a row and then both write it (a second writer waits, per
 * `busy_timeout`). A throw rolls back; SQLite may have rolled back already (some errors end
 * the transaction), and the original error is the one reported.
 */
export function immediately<T>(db: SqliteDb, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE')
  try {
    const result = fn()
    db.exec('COMMIT')
    return result
  } catch (error) {
    try {
      db.exec('ROLLBACK')
    } catch {}
    throw error
  }
}
