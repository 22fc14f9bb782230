import { openPostgresStore, type PostgresStoreOptions } from '../stores/openPostgresStore.js'
import { analyticsSchema } from './postgresAnalyticsSchema.js'
import type { AnalyticsStore, MinuteRow } from './types.js'

/**
 * Minute aggregates on PostgreSQL, beside a PostgreSQL ledger: every instance adds its
 * counts to the same rows (`on conflict … do update`), so the dashboard of any instance
 * shows them all.
 *
 * @example
 * const store = createPostgresAnalyticsStore({ url: process.env.X402_DATABASE_URL! })
 */
export function createPostgresAnalyticsStore(options: PostgresStoreOptions): AnalyticsStore {
  const { sql, run, close } = openPostgresStore(options, 'analytics', analyticsSchema)
  return {
    add: (rows) =>
      run(async () => {
        if (rows.length === 0) return
        // Sorted, so that two instances adding the same minutes lock the rows in one order.
        const sorted = [...rows].sort((a, b) =>
          a.minute !== b.minute
            ? a.minute - b.minute
            : `${a.dim}\u0000${a.key}\u0000${a.outcome}` < `${b.dim}\u0000${b.key}\u0000${b.outcome}`
              ? -1
              : 1,
        )
        for (let i = 0; i < sorted.length; i += 500) {
          const chunk = sorted.slice(i, i + 500)
          await sql`insert into x402_analytics_minutes (minute, dim, key, outcome, requests, amount)
            select * from unnest(
              ${chunk.map((r) => r.minute)}::bigint[], ${chunk.map((r) => r.dim)}::text[],
              ${chunk.map((r) => r.key)}::text[], ${chunk.map((r) => r.outcome)}::text[],
              ${chunk.map((r) => r.requests)}::bigint[], ${chunk.map((r) => r.amount.toString())}::numeric[])
            on conflict (minute, dim, key, outcome) do update set
              requests = x402_analytics_minutes.requests + excluded.requests,
              amount = x402_analytics_minutes.amount + excluded.amount`
        }
      }),
    read: (fromMinute, toMinute) =>
      run(async () => {
        const rows = await sql<
          { minute: bigint; dim: MinuteRow['dim']; key: string; outcome: string; requests: bigint; amount: string }[]
        >`select minute, dim, key, outcome, requests, amount::text as amount from x402_analytics_minutes
          where minute >= ${fromMinute} and minute < ${toMinute}`
        return rows.map((row) => ({
          minute: Number(row.minute),
          dim: row.dim,
          key: row.key,
          outcome: row.outcome,
          requests: Number(row.requests),
          amount: BigInt(row.amount),
        }))
      }),
    prune: (beforeMinute) =>
      run(async () => {
        await sql`delete from x402_analytics_minutes where minute < ${beforeMinute}`
      }),
    close,
  }
}
