import { describe, expect, it } from 'vitest'
import { atOnce, freshBackends, type OpenBackend } from '../stores/contract.fixture.js'
import type { RateLimitStore, RatePolicy } from './types.js'

/** The store's clock as a test drives it: memory's is injected, Redis's is real (its `TIME`). */
export type StoreClock = {
  now(): Promise<number>
  /** Lets `ms` pass for the store. */
  wait(ms: number): Promise<void>
  /** How far the store's time moves during a few calls: 0 for an injected clock. */
  slackMs: number
}

const hour = 3_600_000
const sliding = (limit: number, windowMs = hour): RatePolicy => ({ algorithm: 'sliding-window', limit, windowMs })
const fixed = (limit: number, windowMs = hour): RatePolicy => ({ algorithm: 'fixed-window', limit, windowMs })
const bucket = (capacity: number, refillPerSecond = capacity / 3600): RatePolicy => ({
  algorithm: 'token-bucket',
  capacity,
  refillPerSecond,
})
const every = (allowance: number) => [sliding(allowance), fixed(allowance), bucket(allowance)]

/** The `RateLimitStore` contract (`ratelimit/types.ts`), run against one implementation. */
export function rateLimitStoreContract(name: string, open: OpenBackend<RateLimitStore>, clock: StoreClock) {
  describe(`RateLimitStore contract: ${name}`, () => {
    const fresh = freshBackends(open)
    /** Waits for the next window to start (and the slack to pass). */
    const nextWindow = async (windowMs: number) => {
      await clock.wait(windowMs - ((await clock.now()) % windowMs) + clock.slackMs)
    }
    /** Waits for the next window when fewer than 5 s are left in this one. */
    const roomIn = async (windowMs: number) => {
      if (windowMs - ((await clock.now()) % windowMs) < 5_000) await nextWindow(windowMs)
    }
    /** What the store's clock read just before and just after `fn`. */
    const timed = async <R>(fn: () => Promise<R>) => {
      const before = await clock.now()
      const result = await fn()
      return { result, before, after: await clock.now() }
    }

    for (const policy of every(5)) {
      it(`${policy.algorithm}: admits up to the allowance, then refuses and takes nothing`, async () => {
        const s = await fresh()
        await roomIn(hour)
        expect(await s.a.consume('k', 2, policy)).toMatchObject({ ok: true, limit: 5, remaining: 3, retryAfterMs: 0 })
        const tooMany = await s.b.consume('k', 4, policy)
        expect(tooMany).toMatchObject({ ok: false, limit: 5, remaining: 0 })
        expect(tooMany.retryAfterMs).toBeGreaterThan(0)
        expect(await s.b.consume('k', 3, policy)).toMatchObject({ ok: true, remaining: 0 })
        const refused = await s.a.consume('k', 1, policy)
        expect(refused).toMatchObject({ ok: false, remaining: 0 })
        expect(refused.retryAfterMs).toBeGreaterThan(0)
        expect(await s.a.consume('other', 5, policy)).toMatchObject({ ok: true, remaining: 0 })
      })

      it(`${policy.algorithm}: a cost above the allowance is refused, and takes nothing`, async () => {
        const s = await fresh()
        await roomIn(hour)
        const refused = await s.a.consume('k', 6, policy)
        expect(refused).toMatchObject({ ok: false, remaining: 0, resetSeconds: 0 })
        expect(refused.retryAfterMs).toBeGreaterThan(0)
        expect(await s.b.consume('k', 5, policy)).toMatchObject({ ok: true, remaining: 0 })
      })

      it(`${policy.algorithm}: a refund gives units back, never more than the allowance`, async () => {
        const s = await fresh()
        await roomIn(hour)
        await s.a.refund('k', 3, policy) // nothing taken yet: nothing to give back
        expect(await s.a.consume('k', 5, policy)).toMatchObject({ ok: true, remaining: 0 })
        expect((await s.a.consume('k', 1, policy)).ok).toBe(false)
        await s.b.refund('k', 2, policy)
        expect(await s.a.consume('k', 2, policy)).toMatchObject({ ok: true, remaining: 0 })
        expect((await s.b.consume('k', 1, policy)).ok).toBe(false)
        await s.a.refund('k', 100, policy)
        expect(await s.b.consume('k', 5, policy)).toMatchObject({ ok: true, remaining: 0 })
        expect((await s.a.consume('k', 1, policy)).ok).toBe(false)
      })
    }

    for (const policy of every(50))
      it(`${policy.algorithm}: of 200 consumes at once on one key, exactly 50 are admitted`, async () => {
        const s = await fresh()
        await roomIn(hour)
        const decisions = await atOnce(s, 200, (store) => store.consume('k', 1, policy))
        expect(decisions.filter((d) => d.ok)).toHaveLength(50)
        expect(decisions.filter((d) => !d.ok).every((d) => d.retryAfterMs > 0 && d.remaining === 0)).toBe(true)
        expect(decisions.map((d) => d.remaining).sort((x, y) => x - y)).toEqual([
          ...Array(151).fill(0),
          ...Array.from({ length: 49 }, (_, i) => i + 1),
        ])
      })

    it('resetSeconds: until the allowance is whole again, rounded up', async () => {
      const s = await fresh()
      await roomIn(hour)
      const inFixed = await timed(() => s.a.consume('k', 1, fixed(5)))
      const untilEnd = (t: number) => hour - (t % hour)
      expect(inFixed.result.resetSeconds).toBeGreaterThanOrEqual(Math.ceil(untilEnd(inFixed.after) / 1000))
      expect(inFixed.result.resetSeconds).toBeLessThanOrEqual(Math.ceil(untilEnd(inFixed.before) / 1000))
      // Sliding: what this window counts weighs until the next one ends.
      const inSliding = await timed(() => s.a.consume('k', 1, sliding(5)))
      expect(inSliding.result.resetSeconds).toBeGreaterThanOrEqual(Math.ceil((untilEnd(inSliding.after) + hour) / 1000))
      expect(inSliding.result.resetSeconds).toBeLessThanOrEqual(Math.ceil((untilEnd(inSliding.before) + hour) / 1000))
      expect(await s.a.consume('k', 2, bucket(5, 1))).toMatchObject({ ok: true, remaining: 3, resetSeconds: 2 })
    })

    it('fixed-window: refuses until the window ends, then admits the whole limit again', async () => {
      const s = await fresh()
      const policy = fixed(3, 600)
      await nextWindow(600)
      expect((await s.a.consume('k', 3, policy)).ok).toBe(true)
      const { result, before, after } = await timed(() => s.b.consume('k', 1, policy))
      expect(result).toMatchObject({ ok: false, resetSeconds: 1 })
      expect(result.retryAfterMs).toBeGreaterThanOrEqual(600 - (after % 600))
      expect(result.retryAfterMs).toBeLessThanOrEqual(600 - (before % 600))
      await clock.wait(result.retryAfterMs + clock.slackMs)
      expect(await s.b.consume('k', 3, policy)).toMatchObject({ ok: true, remaining: 0 })
    })

    it('sliding-window: a full window refuses into the next one, as its count decays', async () => {
      const s = await fresh()
      const policy = sliding(10, 600)
      await nextWindow(600)
      expect((await s.a.consume('k', 10, policy)).ok).toBe(true)
      const { result, before, after } = await timed(() => s.b.consume('k', 1, policy))
      // 10 counted now weigh 10 * (1 - e/600) in the next window: 1 more fits at e = 60.
      expect(result).toMatchObject({ ok: false, remaining: 0, resetSeconds: 2 })
      expect(result.retryAfterMs).toBeGreaterThanOrEqual(600 - (after % 600) + 60)
      expect(result.retryAfterMs).toBeLessThanOrEqual(600 - (before % 600) + 60)
      await clock.wait(result.retryAfterMs + clock.slackMs)
      expect((await s.a.consume('k', 1, policy)).ok).toBe(true)
    })

    it("sliding-window: in the next window, the previous one's count decays until the cost fits", async () => {
      const s = await fresh()
      const policy = sliding(10, 600)
      await nextWindow(600)
      expect((await s.a.consume('k', 10, policy)).ok).toBe(true)
      await nextWindow(600)
      // 10 * (1 - e/600) + 5 <= 10 from e = 300 on.
      const { result, before, after } = await timed(() => s.b.consume('k', 5, policy))
      expect(result).toMatchObject({ ok: false, remaining: 0, resetSeconds: 1 })
      expect(result.retryAfterMs).toBeGreaterThanOrEqual(300 - (after % 600))
      expect(result.retryAfterMs).toBeLessThanOrEqual(300 - (before % 600))
      await clock.wait(result.retryAfterMs + clock.slackMs)
      expect((await s.a.consume('k', 5, policy)).ok).toBe(true)
      await clock.wait(1_200 + clock.slackMs) // two windows without a take: whole again
      expect(await s.b.consume('k', 10, policy)).toMatchObject({ ok: true, remaining: 0 })
    })

    it('token-bucket: refills continuously, and says when the cost will fit', async () => {
      const s = await fresh()
      const policy = bucket(5, 4)
      const { result, before, after } = await timed(async () => {
        expect((await s.a.consume('k', 5, policy)).ok).toBe(true)
        return s.b.consume('k', 2, policy)
      })
      // 2 tokens at 4 a second: 500 ms, less what refilled between the two calls.
      expect(result).toMatchObject({ ok: false, remaining: 0 })
      expect(result.retryAfterMs).toBeGreaterThanOrEqual(500 - (after - before))
      expect(result.retryAfterMs).toBeLessThanOrEqual(500)
      await clock.wait(result.retryAfterMs + clock.slackMs)
      expect((await s.b.consume('k', 2, policy)).ok).toBe(true)
      expect((await s.a.consume('k', 2, policy)).ok).toBe(false)
    })

    it('token-bucket: never holds more than its capacity', async () => {
      const s = await fresh()
      const policy = bucket(3, 100)
      expect((await s.a.consume('k', 3, policy)).ok).toBe(true)
      await clock.wait(300 + clock.slackMs) // 30 tokens' worth of refill
      // Taking the whole capacity leaves exactly nothing: the bucket held 3, not 30. (One decision
      // is atomic, so no refill can come between what it reads and what it answers.)
      expect(await s.b.consume('k', 3, policy)).toMatchObject({ ok: true, remaining: 0 })
      expect((await s.a.consume('k', 4, policy)).ok).toBe(false)
    })
  })
}
