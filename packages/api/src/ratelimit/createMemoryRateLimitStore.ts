import type { Algorithm } from './algorithm.js'
import { createExpiringMap } from './expiringMap.js'
import { fixedWindow } from './fixedWindow.js'
import { slidingWindow } from './slidingWindow.js'
import { tokenBucket } from './tokenBucket.js'
import type { RateDecision, RateLimitStore, RatePolicy } from './types.js'

export type MemoryRateLimitStoreOptions = {
  /**
   * The clock, in ms since the epoch (tests pass their own). Windows are aligned on it.
   * @default Date.now
   */
  now?: () => number
}

/**
 * A rate-limit store in process memory: one process, nothing survives a restart. Each
 * decision is synchronous, so concurrent consumes on a key never over-admit. State is kept
 * per key and per policy shape (a window length, or the bucket), and forgotten once spent.
 *
 * @example
 * const store = createMemoryRateLimitStore()
 * const policy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 } as const
 * const { ok, retryAfterMs } = await store.consume('plan:pro:0xabc', 1, policy)
 */
export function createMemoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const now = options.now ?? Date.now
  const runner = <S, P>(algorithm: Algorithm<S, P>) => {
    const states = createExpiringMap<S>()
    return {
      take(key: string, cost: number, policy: P): RateDecision {
        const t = Math.floor(now())
        const { decision, ...step } = algorithm.take(states.get(key, t), t, cost, policy)
        if (decision.ok) states.set(key, step, t)
        return decision
      },
      refund(key: string, cost: number, policy: P): void {
        const t = Math.floor(now())
        const prior = states.get(key, t)
        if (prior !== undefined) states.set(key, algorithm.refund(prior, t, cost, policy), t)
      },
    }
  }
  const sliding = runner(slidingWindow)
  const fixed = runner(fixedWindow)
  const bucket = runner(tokenBucket)
  const take = (key: string, cost: number, policy: RatePolicy): RateDecision => {
    if (policy.algorithm === 'token-bucket') return bucket.take(key, cost, policy)
    const byWindow = policy.algorithm === 'fixed-window' ? fixed : sliding
    return byWindow.take(`${policy.windowMs}:${key}`, cost, policy)
  }
  return {
    consume: async (key, cost, policy) => take(key, cost, policy),
    consumeNow: take,
    async refund(key, cost, policy) {
      if (policy.algorithm === 'token-bucket') return bucket.refund(key, cost, policy)
      const byWindow = policy.algorithm === 'fixed-window' ? fixed : sliding
      byWindow.refund(`${policy.windowMs}:${key}`, cost, policy)
    },
    async close() {},
  }
}
