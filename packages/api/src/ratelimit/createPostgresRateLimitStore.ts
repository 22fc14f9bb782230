import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import { decisionOf } from './algorithm.js'
import { rateLimitSchema } from './postgresRateLimitSchema.js'
import type { RateLimitStore, RatePolicy } from './types.js'

export type PostgresRateLimitStoreOptions =
  | {
      /** The database, through the process's one pool for this URL; `close()` lets go of it. */
      url: string
      sql?: never
    }
  | {
      /** A pool of yours (`openPostgres`), left open by `close()`. */
      sql: Pg
      url?: never
    }

/** A RateLimitStore that can also be pruned on demand (it prunes by itself now and then). */
export type PostgresRateLimitStore = RateLimitStore & {
  /** Deletes the rows whose state is worth nothing any more; returns how many. */
  prune(): Promise<number>
}

const STORE = 'rate-limit'
const PRUNE_EVERY_MS = 60_000
const PRUNE_BATCH = 1_000

/**
 * A rate-limit store on PostgreSQL, for sellers who run PostgreSQL and no Redis: every
 * process on the database shares the limits. Each decision is one call of the function
 * `x402_rate_limit()` (one round trip, atomic): it locks the key's row, runs the algorithm
 * the Redis store's Lua runs, on the database's clock so that every process sees the same
 * windows, and saves the state. Spent rows are pruned now and then, in the background. A
 * call the database cannot answer rejects with `store_unavailable`.
 *
 * @example
 * const store = createPostgresRateLimitStore({ url: 'postgres://127.0.0.1:5432/app' })
 * const policy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 } as const
 * const { ok, retryAfterMs } = await store.consume('plan:pro:0xabc', 1, policy)
 * await store.close()
 */
export function createPostgresRateLimitStore(options: PostgresRateLimitStoreOptions): PostgresRateLimitStore {
  const opened = options.sql
    ? { sql: options.sql, release: async () => {} }
    : openPostgres(options.url, 'X402_DATABASE_URL')
  const { sql } = opened
  let pruneAt = Date.now() + PRUNE_EVERY_MS

  const call = (op: 'take' | 'refund', key: string, cost: number, policy: RatePolicy) =>
    guarded(sql, STORE, async () => {
      await ensureSchema(sql, rateLimitSchema)
      if (Date.now() >= pruneAt) {
        pruneAt = Date.now() + PRUNE_EVERY_MS
        void prune().catch(() => {}) // in the background: the next one tries again
      }
      // One row per key and policy shape, as the memory and Redis stores keep one state each.
      const [shape, a, b] =
        policy.algorithm === 'token-bucket'
          ? ['tb', policy.capacity, policy.refillPerSecond]
          : [`${policy.algorithm === 'fixed-window' ? 'fw' : 'sw'}:${policy.windowMs}`, policy.limit, policy.windowMs]
      const [row] = await sql<
        { r: number[] }[]
      >`select x402_rate_limit(${key}, ${shape}, ${op}, ${cost}, ${a}, ${b}) as r`
      return (row as { r: number[] }).r
    })

  async function prune(): Promise<number> {
    return guarded(sql, STORE, async () => {
      await ensureSchema(sql, rateLimitSchema)
      let pruned = 0
      // In bounded batches, each its own statement: no long lock on a busy table.
      for (;;) {
        const { count } = await sql`
          delete from x402_rate_limits where ctid = any(array(
            select ctid from x402_rate_limits
            where expires_at <= floor(extract(epoch from clock_timestamp()) * 1000)::bigint
            limit ${PRUNE_BATCH}))`
        pruned += count
        if (count < PRUNE_BATCH) return pruned
      }
    })
  }

  return {
    async consume(key, cost, policy) {
      return decisionOf(await call('take', key, cost, policy), policy)
    },
    async refund(key, cost, policy) {
      await call('refund', key, cost, policy)
    },
    prune,
    close: opened.release,
  }
}
