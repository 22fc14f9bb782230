import type { RateDecision, RatePolicy } from './types.js'

/**
 * One algorithm as pure functions of a key's state and the time (ms since the epoch, an
 * integer). The memory store runs them as they are; the Redis store's Lua scripts
 * (`redisScripts.ts`) do the same arithmetic, and the contract suite holds both to it.
 */
export type Algorithm<S, P> = {
  take(state: S | undefined, t: number, cost: number, policy: P): Step<S> & { decision: RateDecision }
  refund(state: S | undefined, t: number, cost: number, policy: P): Step<S>
}

/** The state to keep, and when it is worth nothing (the key can be forgotten then). */
export type Step<S> = { state: S; expiresAt: number }

/** A refused decision: nothing taken. `retryAfterMs` is never 0 for a refusal. */
export const refused = (limit: number, resetMs: number, retryAfterMs: number): RateDecision => ({
  ok: false,
  limit,
  remaining: 0,
  resetSeconds: Math.ceil(resetMs / 1000),
  retryAfterMs: Math.max(1, retryAfterMs),
})

export const admitted = (limit: number, remaining: number, resetMs: number): RateDecision => ({
  ok: true,
  limit,
  remaining,
  resetSeconds: Math.ceil(resetMs / 1000),
  retryAfterMs: 0,
})

/**
 * The decision a networked store's script answers, `[ok, remaining, resetMs, retryAfterMs]`
 * (Redis and PostgreSQL alike), with the policy's limit.
 */
export const decisionOf = (reply: readonly (number | undefined)[], policy: RatePolicy): RateDecision => {
  const [ok, remaining, resetMs, retryAfterMs] = reply
  return {
    ok: ok === 1,
    limit: policy.algorithm === 'token-bucket' ? policy.capacity : policy.limit,
    remaining: remaining ?? 0,
    resetSeconds: Math.ceil((resetMs ?? 0) / 1000),
    retryAfterMs: retryAfterMs ?? 0,
  }
}
