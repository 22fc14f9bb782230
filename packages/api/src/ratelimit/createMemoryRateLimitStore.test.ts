import { describe, expect, it } from 'vitest'
import { createMemoryRateLimitStore } from './createMemoryRateLimitStore.js'
import { rateLimitStoreContract } from './rateLimitStore.contract.js'
import type { RatePolicy } from './types.js'

// An injected clock, started off any window boundary; waits move it, nothing sleeps.
let t = 1_700_000_000_123
const clock = {
  now: async () => t,
  wait: async (ms: number) => {
    t += ms
  },
  slackMs: 0,
}
rateLimitStoreContract(
  'memory',
  () => {
    const store = createMemoryRateLimitStore({ now: () => t })
    return { a: store, b: store, close: () => store.close() }
  },
  clock,
)

describe('createMemoryRateLimitStore, to the millisecond', () => {
  const at = (start: number) => {
    let now = start
    const go = (ms: number) => {
      now += ms
    }
    return { store: createMemoryRateLimitStore({ now: () => now }), go }
  }
  const cases: [RatePolicy, string][] = [
    [{ algorithm: 'sliding-window', limit: 10, windowMs: 1_000 }, 'sliding-window'],
    [{ algorithm: 'fixed-window', limit: 10, windowMs: 1_000 }, 'fixed-window'],
    [{ algorithm: 'token-bucket', capacity: 10, refillPerSecond: 3 }, 'token-bucket'],
  ]
  for (const [policy, name] of cases)
    it(`${name}: the cost fits exactly retryAfterMs later, not a millisecond sooner`, async () => {
      const { store, go } = at(5_000_250)
      expect((await store.consume('k', 10, policy)).ok).toBe(true)
      go(100)
      const { retryAfterMs } = await store.consume('k', 4, policy)
      expect(retryAfterMs).toBeGreaterThan(0)
      go(retryAfterMs - 1)
      expect((await store.consume('k', 4, policy)).ok).toBe(false)
      go(1)
      expect((await store.consume('k', 4, policy)).ok).toBe(true)
    })

  it("sliding-window: halfway into a window, half the previous window's count still weighs", async () => {
    const { store, go } = at(7_000_000)
    const policy: RatePolicy = { algorithm: 'sliding-window', limit: 10, windowMs: 1_000 }
    expect((await store.consume('k', 10, policy)).ok).toBe(true)
    go(1_500)
    const admitted = []
    for (let i = 0; i < 10; i++) admitted.push((await store.consume('k', 1, policy)).ok)
    expect(admitted.filter(Boolean)).toHaveLength(5)
  })

  it('sliding-window: a refund just after the window ended gives back what the previous window counted', async () => {
    const { store, go } = at(7_000_900)
    const policy: RatePolicy = { algorithm: 'sliding-window', limit: 10, windowMs: 1_000 }
    expect((await store.consume('k', 10, policy)).ok).toBe(true)
    go(150) // into the next window, where those 10 weigh 8.5
    expect((await store.consume('k', 2, policy)).ok).toBe(false)
    await store.refund('k', 10, policy)
    expect(await store.consume('k', 10, policy)).toMatchObject({ ok: true, remaining: 0 })
  })
})
