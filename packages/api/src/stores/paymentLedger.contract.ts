import { describe, expect, it } from 'vitest'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { atOnce, freshBackends, type OpenBackend } from './contract.fixture.js'
import type { PaymentLedger } from './types.js'

/** The `PaymentLedger` contract (`stores/types.ts`), run against one implementation. */
export function paymentLedgerContract(name: string, open: OpenBackend<PaymentLedger>) {
  describe(`PaymentLedger contract: ${name}`, () => {
    const fresh = freshBackends(open)

    it('reads its writes: a payment recorded on one handle is found on the other at once', async () => {
      const s = await fresh()
      const p = newPayment()
      expect(await s.a.insert(p)).toBe(true)
      expect(await s.b.get(p.id)).toMatchObject({ id: p.id, state: 'verified', amount: p.amount })
      expect((await s.b.findByNonce(p.network, p.asset, p.payer, p.nonce))?.id).toBe(p.id)
      expect(await s.a.transition(p.id, 'settled', { transaction: `0x${'ab'.repeat(32)}` })).toBe(true)
      expect(await s.b.get(p.id)).toMatchObject({ state: 'settled', transaction: `0x${'ab'.repeat(32)}` })
    })

    it('is the replay guard: of many inserts of one authorization at once, exactly one is recorded', async () => {
      const s = await fresh()
      const p = newPayment()
      const inserted = await atOnce(s, 32, (ledger, i) => ledger.insert({ ...p, id: `${p.id}-${i}` }))
      expect(inserted.filter(Boolean)).toHaveLength(1)
      // Once it failed, the authorization is no longer live: a new attempt may be recorded.
      const recorded = await s.a.findByNonce(p.network, p.asset, p.payer, p.nonce)
      expect(await s.b.transition(recorded?.id as string, 'failed', { reason: 'settle_failed' })).toBe(true)
      expect(await s.a.insert({ ...p, id: `${p.id}-again` })).toBe(true)
    })

    it('moves a payment only forward, and of concurrent moves from one state exactly one wins', async () => {
      const s = await fresh()
      const p = newPayment()
      await s.a.insert(p)
      const moved = await atOnce(s, 16, (ledger, i) => ledger.transition(p.id, i % 2 ? 'settled' : 'released'))
      expect(moved.filter(Boolean)).toHaveLength(1)
      expect(await s.a.transition(p.id, 'verified')).toBe(false)
      expect(await s.b.transition('no-such-id', 'settled')).toBe(false)
    })

    it('claims an undelivered payment once', async () => {
      const s = await fresh()
      const p = newPayment()
      await s.a.insert(p)
      await s.a.transition(p.id, 'settled')
      expect(await s.a.setUndelivered(p.id, true)).toBe(true)
      expect(await s.b.setUndelivered(p.id, true)).toBe(false)
      expect((await s.b.get(p.id))?.undelivered).toBe(true)
      const claims = await atOnce(s, 16, (ledger) => ledger.setUndelivered(p.id, false))
      expect(claims.filter(Boolean)).toHaveLength(1)
    })

    it('keeps money exact: large amounts round-trip, payerStats sums them as bigint', async () => {
      const s = await fresh()
      const payer = `0x${'ab'.repeat(20)}`
      const asset = `0x${'cd'.repeat(20)}`
      // 18-decimal amounts past 2^64 and 2^53: neither an int64 sum nor a float keeps them.
      const amounts = ['123456789012345678901234567', '987654321098765432109876543', '1']
      for (const amount of amounts) {
        const p = newPayment({ payer, asset, amount })
        await s.a.insert(p)
        await s.a.transition(p.id, 'settled')
      }
      await s.a.insert(newPayment({ payer, asset, amount: '5' })) // verified: not counted
      const p = newPayment({ payer, asset, amount: amounts[0] as string })
      await s.a.insert(p)
      expect((await s.b.get(p.id))?.amount).toBe(amounts[0])
      const stats = await s.b.payerStats(payer.toUpperCase().replace('0X', '0x'), 0)
      expect(stats).toEqual([{ asset, count: 3, amount: 1111111110111111111011111111n }])
      expect(await s.b.payerStats(payer, Date.now() + 60_000)).toEqual([])
    })

    it('lists by state (oldest first) and everything (newest first)', async () => {
      const s = await fresh()
      const first = newPayment()
      const second = newPayment()
      await s.a.insert(first)
      await s.a.insert(second)
      await s.a.transition(second.id, 'settled')
      expect((await s.b.listByState(['verified'])).map((r) => r.id)).toEqual([first.id])
      expect((await s.b.list()).map((r) => r.id)).toEqual([second.id, first.id])
    })
  })
}
