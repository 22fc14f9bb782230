import type { TransactionSql } from 'postgres'
import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import type { Algorithm } from './algorithm.js'
import { fixedWindow } from './fixedWindow.js'
import { rateLimitSchema } from './postgresRateLimitSchema.js'
import { slidingWindow } from './slidingWindow.js'
import { tokenBucket } from './tokenBucket.js'
import type { RateDecision, RateLimitStore, RatePolicy } from './types.js'

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

type Tx = TransactionSql<{ bigint: bigint }>
type Row = { state: unknown; expires_at: bigint; now: bigint }

/**
 * A rate-limit store on PostgreSQL, for sellers who run PostgreSQL and no Redis: every
 * process on the database shares the limits. Each decision is one short transaction that
 * locks its key's row (`select … for update`, the row inserted on a key's first take) and
 * runs the same algorithm as the memory store (`slidingWindow`, `fixedWindow`,
 * `tokenBucket`) on the database's clock, so that every process sees the same windows.
 * Rows whose state is spent are pruned now and then. A call the database cannot answer
 * rejects with `store_unavailable`. Redis (`createRedisRateLimitStore`) costs one round
 * trip per decision instead of four.
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

  const run = <T>(fn: () => Promise<T>) =>
    guarded(sql, STORE, async () => {
      await ensureSchema(sql, rateLimitSchema)
      if (Date.now() >= pruneAt) {
        pruneAt = Date.now() + PRUNE_EVERY_MS
        void prune().catch(() => {}) // in the background: the next one tries again
      }
      return fn()
    })

  /** The key's row, locked for this transaction, and the database's time (ms epoch). */
  const lockRow = async (tx: Tx, key: string, policy: string, create: boolean) => {
    const now = tx`floor(extract(epoch from clock_timestamp()) * 1000)::bigint as now`
    const [row] = await tx<Row[]>`
      select state, expires_at, ${now} from x402_rate_limits
      where key = ${key} and policy = ${policy} for update`
    if (row || !create) return row
    // A key's first take: the row is made (or, if another made it first, waited for and read).
    const [made] = await tx<Row[]>`
      insert into x402_rate_limits (key, policy, state, expires_at) values (${key}, ${policy}, null, 0)
      on conflict (key, policy) do update set expires_at = x402_rate_limits.expires_at
      returning state, expires_at, ${now}`
    return made
  }

  const save = async (tx: Tx, key: string, policy: string, state: unknown, expiresAt: number, t: number) => {
    if (expiresAt <= t) await tx`delete from x402_rate_limits where key = ${key} and policy = ${policy}`
    else
      await tx`update x402_rate_limits set state = ${tx.json(state as never)}, expires_at = ${expiresAt}
        where key = ${key} and policy = ${policy}`
  }

  const runner = <S, P>(algorithm: Algorithm<S, P>) => ({
    take: (key: string, policy: string, cost: number, p: P) =>
      run(
        () =>
          sql.begin(async (tx) => {
            const row = (await lockRow(tx, key, policy, true)) as Row
            const t = Number(row.now)
            const prior = row.state !== null && Number(row.expires_at) > t ? (row.state as S) : undefined
            const { decision, state, expiresAt } = algorithm.take(prior, t, cost, p)
            // A refused take takes nothing: the state is left as it was.
            if (decision.ok) await save(tx, key, policy, state, expiresAt, t)
            return decision
          }) as Promise<RateDecision>,
      ),
    refund: (key: string, policy: string, cost: number, p: P) =>
      run(
        () =>
          sql.begin(async (tx) => {
            const row = await lockRow(tx, key, policy, false)
            if (!row) return
            const t = Number(row.now)
            if (row.state === null || Number(row.expires_at) <= t) return
            const { state, expiresAt } = algorithm.refund(row.state as S, t, cost, p)
            await save(tx, key, policy, state, expiresAt, t)
          }) as Promise<void>,
      ),
  })
  const sliding = runner(slidingWindow)
  const fixed = runner(fixedWindow)
  const bucket = runner(tokenBucket)
  // One row per key and policy shape, as the memory and Redis stores keep one state each.
  const windowed = (policy: Exclude<RatePolicy, { algorithm: 'token-bucket' }>) =>
    policy.algorithm === 'fixed-window'
      ? { runner: fixed, shape: `fw:${policy.windowMs}` }
      : { runner: sliding, shape: `sw:${policy.windowMs}` }

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
    consume(key, cost, policy) {
      if (policy.algorithm === 'token-bucket') return bucket.take(key, 'tb', cost, policy)
      const { runner, shape } = windowed(policy)
      return runner.take(key, shape, cost, policy)
    },
    refund(key, cost, policy) {
      if (policy.algorithm === 'token-bucket') return bucket.refund(key, 'tb', cost, policy)
      const { runner, shape } = windowed(policy)
      return runner.refund(key, shape, cost, policy)
    },
    prune,
    close: opened.release,
  }
}
