import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
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

/** One connection per file (and `synchronous`) in this process, shared by the key and usage stores on it. */
type Shared = { db: SqliteDb; users: number; writes: Map<string, number> }
const connections = new Map<string, Shared>()

/**
 * Opens a SQLite file as the ledger does (the same driver, WAL, busy timeout) and brings the
 * tables of `schema` up to date (`applySqliteSchema`: one `BEGIN IMMEDIATE`, versions
 * recorded). The key and usage stores of a process on one file share one connection: a usage
 * event committed (every 20 ms under load) then moves no `data_version` for the
 * key store, whose cache of keys stays, and what one store object writes the others see at
 * once; `wrote` and `writes` tell them apart by component. Also returns the helpers each store
 * uses: `guard` (a rejected promise, `store_unavailable` unless the error is already a 402x
 * one, and once this handle is closed), `atomically` (one write transaction), `dataVersion`
 * (moved by other connections' commits only) and `close` (the last handle closes the file).
 */
export function openKeysDb(options: SqliteStoreOptions, schema: SqliteSchemaComponent, what: string) {
  const memory = options.path === ':memory:'
  const id = `${memory ? ':memory:' : resolve(options.path)}\n${options.synchronous ?? 'normal'}`
  let shared = memory ? undefined : connections.get(id)
  if (!shared) {
    if (!memory) mkdirSync(dirname(options.path), { recursive: true })
    const db: SqliteDb = openSqlite(options.path)
    db.exec('PRAGMA busy_timeout = 5000')
    db.exec('PRAGMA journal_mode = WAL')
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    shared = { db, users: 0, writes: new Map() }
    if (!memory) connections.set(id, shared)
  }
  const { db, writes } = shared
  try {
    applySqliteSchema(db, schema)
  } catch (error) {
    // A file this release cannot use: let go of the connection if nothing else holds it.
    if (shared.users === 0) {
      if (connections.get(id) === shared) connections.delete(id)
      db.close()
    }
    throw error
  }
  shared.users++
  const dataVersionQuery = db.prepare('PRAGMA data_version')
  let closed = false
  /** A failure as the stores report it: `store_unavailable`, unless it is already a 402x error. */
  const fault = (error: unknown) =>
    error instanceof X402Error
      ? error
      : new X402Error('store_unavailable', { message: `the ${what} failed: ${(error as Error).message}`, cause: error })
  /** Throws `store_unavailable` once this handle is closed (the connection may live on for another). */
  const ensureOpen = () => {
    if (closed) throw new X402Error('store_unavailable', { message: `the ${what} is closed` })
  }
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      ensureOpen()
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(fault(error))
    }
  }
  const atomically = <T>(fn: () => T): T => immediately(db, fn)
  const dataVersion = () => Number((dataVersionQuery.get() as { data_version: number } | undefined)?.data_version ?? 0)
  const held = shared
  return {
    db,
    guard,
    atomically,
    dataVersion,
    fault,
    ensureOpen,
    /** Counts a write of `component` by this process (other store objects on the connection read it). */
    wrote: (component: string) => void writes.set(component, (writes.get(component) ?? 0) + 1),
    /** How many writes of `component` store objects of this process made on the connection. */
    writes: (component: string) => writes.get(component) ?? 0,
    close() {
      if (closed) return
      closed = true
      if (--held.users > 0) return
      if (connections.get(id) === held) connections.delete(id)
      db.close()
    },
  }
}
