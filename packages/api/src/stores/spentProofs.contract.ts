import { describe, expect, it } from 'vitest'
import { atOnce, freshBackends, type OpenBackend } from './contract.fixture.js'
import type { SpentProofs } from './types.js'

/** The `SpentProofs` contract (`stores/types.ts`), run against one implementation. */
export function spentProofsContract(name: string, open: OpenBackend<SpentProofs>) {
  describe(`SpentProofs contract: ${name}`, () => {
    const fresh = freshBackends(open)
    const later = () => Date.now() + 60_000

    it('spends a proof once: the second time, on any handle, is refused', async () => {
      const s = await fresh()
      expect(await s.a.spend('0xabc:n1', later())).toBe(true)
      expect(await s.a.spend('0xabc:n1', later())).toBe(false)
      expect(await s.b.spend('0xabc:n1', later())).toBe(false)
    })

    it('of many spends of one proof at once, exactly one is accepted', async () => {
      const s = await fresh()
      const spent = await atOnce(s, 64, (proofs) => proofs.spend('0xabc:n2', later()))
      expect(spent.filter(Boolean)).toHaveLength(1)
    })

    it('keeps proofs apart by key', async () => {
      const s = await fresh()
      expect(await s.a.spend('0xabc:n3', later())).toBe(true)
      expect(await s.b.spend('0xabc:n4', later())).toBe(true)
      expect(await s.b.spend('0xdef:n3', later())).toBe(true)
    })
  })
}
