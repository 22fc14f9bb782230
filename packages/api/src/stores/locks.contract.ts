import { describe, expect, it } from 'vitest'
import { atOnce, freshBackends, type OpenBackend, sleep } from './contract.fixture.js'
import type { Locks } from './types.js'

/** The `Locks` contract (`stores/types.ts`), run against one implementation. */
export function locksContract(name: string, open: OpenBackend<Locks>) {
  describe(`Locks contract: ${name}`, () => {
    const fresh = freshBackends(open)

    it('of many acquirers at once, on every handle, exactly one wins', async () => {
      const s = await fresh()
      const won = await atOnce(s, 64, (locks) => locks.acquire('eip155:8453:0xa:0xp:0xn', 60_000))
      expect(won.filter(Boolean)).toHaveLength(1)
    })

    it('excludes every other holder until released; then exactly one more wins', async () => {
      const s = await fresh()
      expect(await s.a.acquire('k', 60_000)).toBe(true)
      expect(await s.b.acquire('k', 60_000)).toBe(false)
      expect(await s.a.acquire('k', 60_000)).toBe(false)
      await s.a.release('k')
      const won = await atOnce(s, 16, (locks) => locks.acquire('k', 60_000))
      expect(won.filter(Boolean)).toHaveLength(1)
    })

    it('expires after its ttl, as a safety net', async () => {
      const s = await fresh()
      expect(await s.a.acquire('k', 30)).toBe(true)
      await sleep(80)
      expect(await s.b.acquire('k', 60_000)).toBe(true)
    })

    it('is not freed by a holder whose lock expired and went to another', async () => {
      const s = await fresh()
      // One object is one holder: it cannot tell its own two holds apart (the memory store).
      if (s.a === s.b) return
      expect(await s.a.acquire('k', 30)).toBe(true)
      await sleep(80)
      expect(await s.b.acquire('k', 60_000)).toBe(true)
      await s.a.release('k')
      expect(await s.a.acquire('k', 60_000)).toBe(false)
      await s.b.release('k')
      expect(await s.a.acquire('k', 60_000)).toBe(true)
    })

    it('locks keys independently', async () => {
      const s = await fresh()
      expect(await s.a.acquire('k1', 60_000)).toBe(true)
      expect(await s.b.acquire('k2', 60_000)).toBe(true)
    })
  })
}
