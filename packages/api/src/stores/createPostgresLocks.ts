import { randomUUID } from 'node:crypto'
import { openPostgresStore, type PostgresStoreOptions, sweepNow } from './openPostgresStore.js'
import { coordinationSchema } from './postgresCoordinationSchema.js'
import type { Locks } from './types.js'

/**
 * In-flight locks on PostgreSQL, shared by every instance of a seller that has PostgreSQL
 * and no Redis. A lock is a row with its holder's token and an expiry on the database's
 * clock: `acquire` is one upsert that takes the row only when it is free or expired, and
 * `release` deletes the row only while it still holds this holder's token, so that a holder
 * whose lock expired and went to another never frees the other's.
 *
 * @example
 * const locks = createPostgresLocks({ url: process.env.X402_DATABASE_URL! })
 * if (await locks.acquire(key, 60_000)) try { … } finally { await locks.release(key) }
 */
export function createPostgresLocks(options: PostgresStoreOptions): Locks & { close(): Promise<void> } {
  const { sql, run, close } = openPostgresStore(options, 'locks', coordinationSchema)
  /** The token of each lock this store object took, for its release. */
  const tokens = new Map<string, string>()
  return {
    acquire: (key, ttlMs) =>
      run(async () => {
        const token = randomUUID()
        // Concurrent upserts of one key queue on its row: the first inserts (or takes over an
        // expired lock), the others then find it unexpired and change nothing.
        const rows = await sql`insert into x402_locks (key, token, expires_at)
          values (${key}, ${token}, clock_timestamp() + ${ttlMs} * interval '1 millisecond')
          on conflict (key) do update set token = excluded.token, expires_at = excluded.expires_at
          where x402_locks.expires_at <= clock_timestamp()
          returning key`
        if (rows.length === 0) return false
        tokens.set(key, token)
        // Locks left by holders that died (never released) would pile up: swept now and then.
        // Swept in the background: a failed sweep never fails the write that already committed.
        if (sweepNow(1_000)) void sql`delete from x402_locks where expires_at <= clock_timestamp()`.catch(() => {})
        return true
      }),
    release: (key) =>
      run(async () => {
        const token = tokens.get(key)
        if (token === undefined) return
        tokens.delete(key)
        await sql`delete from x402_locks where key = ${key} and token = ${token}`
      }),
    close,
  }
}
