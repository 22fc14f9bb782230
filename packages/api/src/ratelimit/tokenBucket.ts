import { type Algorithm, admitted, refused } from './algorithm.js'

/** A key's tokens at `at` (ms). An absent key is a full bucket. */
export type BucketState = { tokens: number; at: number }
type Bucket = { capacity: number; refillPerSecond: number }

/** Float slack: tokens are refilled by fractions, and 2.9999999999 tokens are 3. */
const epsilon = 1e-9

function refill(state: BucketState | undefined, t: number, { capacity, refillPerSecond }: Bucket): BucketState {
  if (!state) return { tokens: capacity, at: t }
  const elapsed = Math.max(0, t - state.at)
  return { tokens: Math.min(capacity, state.tokens + (elapsed * refillPerSecond) / 1000), at: Math.max(t, state.at) }
}

/** Ms until the bucket holds `tokens` more than now. */
const msFor = (tokens: number, refillPerSecond: number) =>
  tokens <= epsilon ? 0 : Math.ceil((tokens * 1000) / refillPerSecond)

/** A bucket of `capacity` tokens refilled continuously; a take needs `cost` tokens there. */
export const tokenBucket: Algorithm<BucketState, Bucket> = {
  take(prior, t, cost, policy) {
    const { capacity, refillPerSecond } = policy
    const state = refill(prior, t, policy)
    const resetMs = () => msFor(capacity - state.tokens, refillPerSecond)
    if (cost > capacity || state.tokens + epsilon < cost) {
      const wait = cost > capacity ? msFor(capacity, refillPerSecond) : msFor(cost - state.tokens, refillPerSecond)
      return { state, expiresAt: t + resetMs(), decision: refused(capacity, resetMs(), wait) }
    }
    state.tokens = Math.max(0, state.tokens - cost)
    const decision = admitted(capacity, Math.floor(state.tokens + epsilon), resetMs())
    return { state, expiresAt: t + resetMs(), decision }
  },
  refund(prior, t, cost, policy) {
    const state = refill(prior, t, policy)
    state.tokens = Math.min(policy.capacity, state.tokens + cost)
    return { state, expiresAt: t + msFor(policy.capacity - state.tokens, policy.refillPerSecond) }
  },
}
