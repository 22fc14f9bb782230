import { describe, expect, it } from 'vitest'
import { atOnce, freshBackends, type OpenBackend, sleep } from './contract.fixture.js'
import type { Counters } from './types.js'

/** The `Counters` contract (`stores/types.ts`), run against one implementation. */
export function countersContract(name: string, open: OpenBackend<Counters>) {
  describe(`Counters contract: ${name}`, () => {
    const fresh = freshBackends(open)
    const day = 86_400_000

    it('is atomic per key: of many takes at once, exactly `limit` succeed', async () => {
      const s = await fresh()
      const taken = await atOnce(s, 100, (counters) => counters.take('free:0:1.2.3.4', 1, 10, day))
      expect(taken.filter((t) => t.ok)).toHaveLength(10)
      expect(await s.a.take('free:0:1.2.3.4', 1, 10, day)).toMatchObject({ ok: false, remaining: 0 })
    })

    it('counts a take of several at once, and a refused take counts nothing', async () => {
      const s = await fresh()
      expect(await s.a.take('k', 4, 10, day)).toMatchObject({ ok: true, remaining: 6 })
      expect(await s.b.take('k', 7, 10, day)).toMatchObject({ ok: false, remaining: 6 })
      expect(await s.b.take('k', 6, 10, day)).toMatchObject({ ok: true, remaining: 0 })
    })

    it('says when the window ends, and starts a new one after it', async () => {
      const s = await fresh()
      // Both handles warmed first (a networked store's first call connects and migrates), and a
      // window of a second: the second take falls inside it even on a loaded machine.
      await Promise.all([s.a.take('warm', 1, 1, day), s.b.take('warm', 1, 1, day)])
      const before = Date.now()
      const first = await s.a.take('k', 1, 1, 1_000)
      expect(first.ok).toBe(true)
      expect(first.resetAt).toBeGreaterThanOrEqual(before + 1_000)
      expect((await s.b.take('k', 1, 1, 1_000)).ok).toBe(false)
      await sleep(1_100)
      expect(await s.b.take('k', 1, 1, 1_000)).toMatchObject({ ok: true, remaining: 0 })
    })

    it('counts keys apart', async () => {
      const s = await fresh()
      expect((await s.a.take('k1', 1, 1, day)).ok).toBe(true)
      expect((await s.b.take('k2', 1, 1, day)).ok).toBe(true)
    })
  })
}
