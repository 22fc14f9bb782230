// Rate limits (issue 17): the policy a limit enforces, the decision a store makes, and the
// store contract every backend (memory, Redis, PostgreSQL) meets. docs/rate-limits.md is
// the user's page.

/** What a limit allows, resolved from the options (every field checked at start-up). */
export type RatePolicy =
  | {
      /**
       * `sliding-window` (default): the current fixed window's count plus the previous one's,
       * weighted by how much of it still overlaps the last `windowMs` (Cloudflare's estimate).
       * `fixed-window`: a count per window, reset at the window's end (windows aligned on
       * multiples of `windowMs` since the epoch, the same for every process).
       */
      algorithm: 'sliding-window' | 'fixed-window'
      /** Units allowed per window. */
      limit: number
      windowMs: number
    }
  | {
      /** A bucket of `capacity` tokens, refilled continuously at `refillPerSecond`. */
      algorithm: 'token-bucket'
      capacity: number
      refillPerSecond: number
    }

/** One decision of a store. */
export type RateDecision = {
  /** Whether the `cost` fitted (and was taken). A refused take takes nothing. */
  ok: boolean
  /** The policy's allowance: `limit`, or the bucket's `capacity`. */
  limit: number
  /** Units left after this decision (0 when refused), rounded down. */
  remaining: number
  /** Seconds until the allowance is whole again (the `t` of the `RateLimit` header), ≥ 0. */
  resetSeconds: number
  /** Refused: ms until `cost` units can fit again (the `Retry-After`). 0 when `ok`. */
  retryAfterMs: number
}

/**
 * Where rate-limit state lives: one atomic decision per call.
 *
 * Contract:
 * - `consume` is atomic per key: of concurrent consumes on one key, in every process sharing
 *   the store, the ones that succeed never exceed the policy (sliding window: its estimate;
 *   fixed window: `limit` per window; token bucket: the tokens there were);
 * - time is the store's: every process sharing a store sees the same windows (Redis reads
 *   its own clock, `TIME`, inside the script; PostgreSQL its `clock_timestamp()`);
 * - a refused `consume` takes nothing;
 * - `refund` gives back units a `consume` took (a request that is then refused and not
 *   counted), never more than were taken in the current window or bucket;
 * - a rejected promise means the store could not answer: the route follows `onStoreError`.
 *
 * Implementations: memory (`createMemoryRateLimitStore`), Redis (`createRedisRateLimitStore`,
 * one `EVALSHA` round trip per call, keys hash-tagged for Redis Cluster), PostgreSQL
 * (`createPostgresRateLimitStore`, one call of the PL/pgSQL twin of the Lua per decision).
 */
export type RateLimitStore = {
  consume(key: string, cost: number, policy: RatePolicy): Promise<RateDecision>
  /**
   * `consume` decided at once, where the state is in this process (memory): the Node fast
   * path's. Absent where a decision needs a round trip (Redis, PostgreSQL).
   */
  consumeNow?(key: string, cost: number, policy: RatePolicy): RateDecision
  refund(key: string, cost: number, policy: RatePolicy): Promise<void>
  close(): Promise<void>
}
