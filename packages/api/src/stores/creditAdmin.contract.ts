import { describe, expect, it } from 'vitest'
import { freshBackends, type OpenBackend } from './contract.fixture.js'
import type { CreditStore } from './types.js'

/** `CreditStore.accounts`, `adjust` and `revenue` (`stores/types.ts`), run against one implementation. */
export function creditAdminContract(name: string, open: OpenBackend<CreditStore>) {
  describe(`CreditStore accounts, adjust and revenue: ${name}`, () => {
    const fresh = freshBackends(open)

    it('lists caller accounts in order, paged, with available, reserved and the last movement', async () => {
      const s = await fresh()
      const before = Date.now()
      for (const account of ['acct_c', 'acct_a', 'acct_b'])
        await s.a.grant({ account, amount: 1_000n, ref: `g-${account}` })
      const held = await s.a.reserve({ account: 'acct_b', amount: 300n, ttlMs: 60_000 })
      expect(held.ok).toBe(true)
      const page = await s.b.accounts({ limit: 2 })
      expect(page.map((a) => a.account)).toEqual(['acct_a', 'acct_b'])
      expect(page[1]).toMatchObject({ available: 700n, reserved: 300n })
      expect(page[1]?.updatedAt).toBeGreaterThanOrEqual(before)
      expect((await s.b.accounts({ limit: 2, after: 'acct_b' })).map((a) => a.account)).toEqual(['acct_c'])
      await expect(s.b.accounts({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_request' })
    })

    it('pages through the revenue of [from, to) oldest first: captures, charges and refunds, by caller', async () => {
      const s = await fresh()
      const before = Date.now()
      await s.a.grant({ account: 'acct_a', amount: 1_000n, ref: 'g-a' })
      await s.a.grant({ account: 'acct_b', amount: 1_000n, ref: 'g-b' })
      const held = await s.a.reserve({ account: 'acct_a', amount: 300n, ttlMs: 60_000 })
      if (!held.ok) throw new Error('the reservation was refused')
      await s.a.capture({ reservationId: held.reservationId, amount: 200n })
      expect(await s.a.tab([{ account: 'acct_b', amount: 50n }])).toEqual([true])
      await s.a.postTabs()
      await s.a.refund({ account: 'acct_a', amount: 20n, ref: 'r-1', reason: 'not delivered' })
      const to = Date.now() + 1
      const all = await s.b.revenue({ from: before, to })
      expect(all.map((e) => [e.kind, e.account, e.amount])).toEqual([
        ['capture', 'acct_a', 200n],
        ['charge', 'acct_b', 50n],
        ['refund', 'acct_a', -20n],
      ])
      expect(all[0]?.ref).toBe(held.reservationId)
      // How many charges it covers ("1 charge"; the memory store writes the count alone).
      expect(all[1]?.note).toMatch(/^1( charge)?$/)
      expect(all[2]).toMatchObject({ ref: 'r-1', note: 'not delivered' })
      // Page by page, after the last entry of the page before: each entry once.
      const first = await s.b.revenue({ from: before, to, limit: 2 })
      const second = await s.b.revenue({ from: before, to, limit: 2, after: first.at(-1) })
      expect([...first, ...second]).toEqual(all)
      expect(await s.b.revenue({ from: before, to, after: all.at(-1) })).toEqual([])
      expect(await s.b.revenue({ from: to, to: to + 60_000 })).toEqual([])
      await expect(s.b.revenue({ from: to, to })).rejects.toMatchObject({ code: 'invalid_request' })
    })

    it('adjusts up and down with its reason in the statement, never below zero, once per ref', async () => {
      const s = await fresh()
      await s.a.grant({ account: 'acct_x', amount: 1_000n, ref: 'g1' })
      expect(await s.a.adjust({ account: 'acct_x', amount: 500n, ref: 'adj-1', reason: 'goodwill' })).toMatchObject({
        replayed: false,
      })
      expect(await s.b.adjust({ account: 'acct_x', amount: 500n, ref: 'adj-1', reason: 'goodwill' })).toMatchObject({
        replayed: true,
      })
      await s.a.adjust({ account: 'acct_x', amount: -1_200n, ref: 'adj-2', reason: 'duplicate top-up' })
      expect((await s.b.balance('acct_x')).available).toBe(300n)
      await expect(
        s.a.adjust({ account: 'acct_x', amount: -301n, ref: 'adj-3', reason: 'too much' }),
      ).rejects.toMatchObject({ code: 'invalid_request', details: { reason: 'insufficient_credit', available: '300' } })
      await expect(
        s.a.adjust({ account: 'acct_x', amount: -5n, ref: 'adj-2', reason: 'reused ref' }),
      ).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(s.a.adjust({ account: 'acct_x', amount: 0n, ref: 'adj-4', reason: 'zero' })).rejects.toMatchObject({
        code: 'invalid_request',
      })
      expect((await s.b.balance('acct_x')).available).toBe(300n)
      const statement = (await s.b.entries('acct_x')).filter((e) => e.kind === 'adjust')
      expect(statement.map((e) => [e.amount, e.note, e.ref])).toEqual([
        [-1_200n, 'duplicate top-up', 'adj-2'],
        [500n, 'goodwill', 'adj-1'],
      ])
    })
  })
}
