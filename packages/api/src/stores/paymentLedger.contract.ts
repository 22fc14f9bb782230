import { describe, expect, it } from 'vitest'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { atOnce, freshBackends, type OpenBackend, sleep } from './contract.fixture.js'
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

    const unfinished = ['verified', 'settling', 'pending'] as const
    const ids = (records: { id: string }[]) => records.map((r) => r.id).sort()

    it('leases a stale payment to one owner at a time: claims at once never share a row', async () => {
      const s = await fresh()
      const payments = Array.from({ length: 12 }, () => newPayment())
      for (const p of payments) await s.a.insert(p)
      const later = Date.now() + 60_000
      const claims = await atOnce(s, 8, (ledger, i) => ledger.claimStale(unfinished, later, `owner-${i}`, 60_000))
      const claimed = claims.flatMap(ids)
      expect(new Set(claimed).size).toBe(claimed.length)
      // Every stale row went to someone, and a third owner finds nothing left while the leases run.
      expect(claimed.sort()).toEqual(ids(payments))
      expect(await s.b.claimStale(unfinished, later, 'another', 60_000)).toEqual([])
      // A limit takes the oldest first.
      const s2 = [newPayment(), newPayment(), newPayment()]
      for (const p of s2) await s.b.insert(p)
      expect((await s.a.claimStale(unfinished, later, 'late', 60_000, 2)).map((r) => r.id)).toEqual(
        s2.slice(0, 2).map((p) => p.id),
      )
    })

    it('renews a lease for its owner, and lets another owner claim a lease that ran out', async () => {
      const s = await fresh()
      const p = newPayment()
      await s.a.insert(p)
      const later = Date.now() + 60_000
      expect(ids(await s.a.claimStale(unfinished, later, 'first', 60_000))).toEqual([p.id])
      expect(await s.b.claimStale(unfinished, later, 'second', 60_000)).toEqual([])
      // Renewed, this time for a millisecond: then the first owner dies (SIGKILL) holding it.
      expect(ids(await s.a.claimStale(unfinished, later, 'first', 1))).toEqual([p.id])
      await sleep(50)
      // Its lease ran out: another owner takes the payment over, and now holds it.
      expect(ids(await s.b.claimStale(unfinished, later, 'second', 60_000))).toEqual([p.id])
      expect(await s.a.claimStale(unfinished, later, 'first', 60_000)).toEqual([])
    })

    it("does not disturb the request's own moves: a lease blocks no transition, a fresh row is not claimed", async () => {
      const s = await fresh()
      const held = newPayment()
      const fresh_ = newPayment()
      await s.a.insert(held)
      await s.a.insert(fresh_)
      const [claimed] = await s.b.claimStale(['verified'], Date.now() + 60_000, 'reconciler', 60_000, 1)
      expect(claimed).toMatchObject({ id: held.id, state: 'verified' })
      // The claim changed neither the state nor the time a reconciler measures staleness by.
      expect((await s.a.get(held.id))?.updatedAt).toBe(claimed?.updatedAt)
      expect(await s.a.transition(held.id, 'settled')).toBe(true)
      // The serving request moves its payment now: it is no longer stale, so no reconciler takes it.
      await sleep(5)
      const cutoff = Date.now()
      expect(await s.a.transition(fresh_.id, 'settling')).toBe(true)
      expect(await s.b.claimStale(unfinished, cutoff, 'reconciler', 60_000)).toEqual([])
      expect(await s.b.listByState(unfinished, cutoff)).toEqual([])
    })
  })
}
