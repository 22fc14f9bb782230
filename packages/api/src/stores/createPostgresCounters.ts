import { openPostgresStore, type PostgresStoreOptions, sweepNow } from './openPostgresStore.js'
import { coordinationSchema } from './postgresCoordinationSchema.js'
import type { Counters } from './types.js'

/**
 * Fixed-window counters on PostgreSQL, shared by every instance of a seller that has
 * PostgreSQL and no Redis. A take is one upsert on the key's row: it starts a new window when
 * there is none or the last has ended, and adds `cost` only when it fits the `limit`; the
 * row's lock makes concurrent takes queue, so the successful ones never exceed it. Windows
 * are ms epochs of the instances' clocks (`resetAt`, as the interface returns it). Ended
 * windows are swept now and then.
 *
 * @example
 * const counters = createPostgresCounters({ url: process.env.X402_DATABASE_URL! })
 * const { ok } = await counters.take('route:1.2.3.4', 1, 100, 86_400_000)
 */
export function createPostgresCounters(options: PostgresStoreOptions): Counters & { close(): Promise<void> } {
  const { sql, run, close } = openPostgresStore(options, 'counters', coordinationSchema)
  return {
    take: (key, cost, limit, windowMs) =>
      run(async () => {
        const now = Date.now()
        const fits = cost <= limit
        const [row] = await sql<{ used: bigint; reset_at: bigint; last_ok: boolean }[]>`
          insert into x402_counters as c (key, used, reset_at, last_ok)
          values (${key}, ${fits ? cost : 0}, ${now + windowMs}, ${fits})
          on conflict (key) do update set
            used = case when c.reset_at <= ${now} then excluded.used
              when c.used + ${cost} <= ${limit} then c.used + ${cost} else c.used end,
            last_ok = case when c.reset_at <= ${now} then excluded.last_ok
              else c.used + ${cost} <= ${limit} end,
            reset_at = case when c.reset_at <= ${now} then excluded.reset_at else c.reset_at end
          returning used, reset_at, last_ok`
        // Swept in the background: a failed sweep never fails the write that already committed.
        if (sweepNow(1_000)) void sql`delete from x402_counters where reset_at <= ${now}`.catch(() => {})
        const used = Number(row?.used ?? 0)
        return { ok: row?.last_ok ?? false, remaining: limit - used, resetAt: Number(row?.reset_at ?? now + windowMs) }
      }),
    close,
  }
}
