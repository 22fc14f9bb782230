import { describe, expect, it } from 'vitest'
import { freshBackends, type OpenBackend } from './contract.fixture.js'
import type { CreditStore } from './types.js'

/** `CreditStore.accounts` and `CreditStore.adjust` (`stores/types.ts`), run against one implementation. */
export function creditAdminContract(name: string, open: OpenBackend<CreditStore>) {
  describe(`CreditStore accounts and adjust: ${name}`, () => {
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
