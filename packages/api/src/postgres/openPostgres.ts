import { X402Error } from '@402x/core'
import postgres from 'postgres'

/** A PostgreSQL connection pool (postgres.js), `int8` read as `bigint`. */
export type Pg = postgres.Sql<{ bigint: bigint }>

/** Pools opened from a URL, one per URL in a process, closed with its last user. */
const shared = new Map<string, { sql: Pg; users: number }>()

/** Whether a setting is a PostgreSQL URL (`postgres://` or `postgresql://`). */
export const isPostgresUrl = (value: string | undefined): boolean =>
  value !== undefined && /^postgres(ql)?:\/\/./i.test(value)

/**
 * One PostgreSQL pool for `url`, shared by every store of the process that names the same
 * URL, and how to let go of it (the last `release` ends the pool). The pool fails fast
 * while the server is down (5 s to connect) and reconnects by itself on the next query.
 * Nothing waits for ever: a query has 10 s in all (a blackholed connection included), a
 * free connection 5 s, a lock 3 s and a statement 10 s on the server, and a transaction
 * left idle is ended after 30 s, so that a stuck lock or network answers 503
 * `store_unavailable` rather than holding a request; after an outage it tries again at least
 * once a second, so that it is back within a second of the server.
 * Query parameters the driver does not know are sent as connection parameters, so
 * `?search_path=tenant_a` puts every table of 402x in that schema.
 *
 * @example
 * const { sql, release } = openPostgres('postgres://127.0.0.1:5432/app', 'X402_DATABASE_URL')
 * await sql`select 1`
 * await release()
 */
export function openPostgres(url: string, from: string): { sql: Pg; release(): Promise<void> } {
  if (!isPostgresUrl(url)) {
    throw new X402Error('invalid_config', {
      message: `${from} is "${url}": give a PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/app`,
      details: { option: from },
    })
  }
  let entry = shared.get(url)
  if (!entry) {
    const sql = postgres(url, {
      max: 10,
      connect_timeout: 5,
      idle_timeout: 60,
      query_timeout: 10,
      queue_timeout: 5,
      // Reconnects (and re-LISTENs) at most a second apart: the driver's own backoff grows to
      // 20 s, and calls meanwhile fail with the last error, long after the server is back.
      backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
      onnotice: () => {},
      types: { bigint: postgres.BigInt },
      connection: {
        application_name: '402x',
        statement_timeout: 10_000,
        lock_timeout: 3_000,
        idle_in_transaction_session_timeout: 30_000,
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>) as unknown as Pg
    entry = { sql, users: 0 }
    shared.set(url, entry)
  }
  entry.users++
  const held = entry
  let released = false
  return {
    sql: held.sql,
    async release() {
      if (released) return
      released = true
      if (--held.users > 0) return
      if (shared.get(url) === held) shared.delete(url)
      await held.sql.end({ timeout: 5 })
    },
  }
}

/** Where a pool points, for messages: `host:port/database`, never the password. */
export function pgWhere(sql: Pg): string {
  const o = sql.options as { host?: string[]; port?: number[]; database?: string }
  return `${o.host?.[0] ?? '127.0.0.1'}:${o.port?.[0] ?? 5432}/${o.database ?? ''}`
}

/**
 * The fault for a PostgreSQL call that could not be answered: `store_unavailable` (503,
 * retryable), naming the store and where it points. An `X402Error` passes through as is.
 */
export function pgUnavailable(cause: unknown, store: string, sql: Pg): X402Error {
  if (cause instanceof X402Error) return cause
  const at = pgWhere(sql)
  const reason = (cause as Error)?.message ?? String(cause)
  return new X402Error('store_unavailable', {
    message:
      `the PostgreSQL ${store} store at ${at} could not answer: ${reason}. ` +
      'Check that PostgreSQL is running and reachable there; 402x reconnects by itself, and until ' +
      'then priced routes answer 503 with Retry-After and serve nothing unpaid.',
    details: { store, at },
    cause,
  })
}

/**
 * Runs `fn`, turning any failure of the database into {@link pgUnavailable}.
 *
 * @example
 * const rows = await guarded(sql, 'ledger', () => sql`select * from x402_payments where id = ${id}`)
 */
export async function guarded<T>(sql: Pg, store: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (cause) {
    throw pgUnavailable(cause, store, sql)
  }
}
