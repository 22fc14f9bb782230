import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { issueToken } from '../credits/tokens.js'
import { atOnce, freshBackends, type OpenBackend, sleep } from './contract.fixture.js'
import type { CreditStore } from './types.js'

/** Whether a caller's entries add up to its balance: `caller:` entries to available, `hold:` to reserved. */
async function booksOf(store: CreditStore, account: string) {
  const entries = await store.entries(account, { limit: 10_000 })
  const sum = (prefix: string) =>
    entries.filter((e) => e.account.startsWith(prefix)).reduce((total, e) => total + e.amount, 0n)
  return { available: sum('caller:'), reserved: sum('hold:') }
}

/** Reads `version()` until two reads 50 ms apart agree (a store still starting to listen changes on every read). */
async function settledVersion(store: CreditStore) {
  for (let i = 0; i < 40; i++) {
    const before = store.version()
    await sleep(50)
    if (store.version() === before) return before
  }
  throw new Error('version() kept changing with nothing written')
}

/**
 * The `CreditStore` contract (`stores/types.ts`), run against one implementation.
 *
 * `signals`: `false` for a store that one object serves alone (memory): it has no other
 * writer whose commits it could signal, so that case is not registered for it; `'notified'`
 * for a store told of other writers' commits by its backend (PostgreSQL `LISTEN`): the change
 * shows once the notification has come (within 2 s here), not as the write resolves.
 */
export function creditStoreContract(
  name: string,
  open: OpenBackend<CreditStore>,
  options: { signals?: boolean | 'notified' } = {},
) {
  describe(`CreditStore contract: ${name}`, () => {
    const fresh = freshBackends(open)
    const account = () => `acct_${randomUUID()}`

    it('reads its writes: a top-up on one handle is in the balance on the other at once', async () => {
      const s = await fresh()
      const a = account()
      await s.a.topUp({ account: a, amount: 1_000_000n, ref: `pay_${a}` })
      expect(await s.b.balance(a)).toEqual({ available: 1_000_000n, reserved: 0n })
      const held = await s.b.reserve({ account: a, amount: 400_000n, ttlMs: 60_000 })
      expect(held.ok).toBe(true)
      expect(await s.a.balance(a)).toEqual({ available: 600_000n, reserved: 400_000n })
      if (!held.ok) return
      expect(await s.a.capture({ reservationId: held.reservationId, amount: 150_000n })).toEqual({
        captured: 150_000n,
        released: 250_000n,
      })
      expect(await s.b.balance(a)).toEqual({ available: 850_000n, reserved: 0n })
    })

    it('never overdraws: of many reservations at once, on both handles, only what the balance covers succeed', async () => {
      const s = await fresh()
      const a = account()
      await s.a.topUp({ account: a, amount: 10_000n, ref: `pay_${a}` })
      const held = await atOnce(s, 40, (store) => store.reserve({ account: a, amount: 1_000n, ttlMs: 60_000 }))
      expect(held.filter((h) => h.ok)).toHaveLength(10)
      expect(await s.b.balance(a)).toEqual({ available: 0n, reserved: 10_000n })
    })

    it('charges a batch (tab) only what each caller covers, and the charges are posted whole', async () => {
      const s = await fresh()
      const [a, b] = [account(), account()]
      await s.a.topUp({ account: a, amount: 5_000n, ref: `pay_${a}` })
      const results = await s.a.tab([
        { account: a, amount: 3_000n },
        { account: b, amount: 1n },
        { account: a, amount: 3_000n },
        { account: a, amount: 2_000n },
      ])
      expect(results).toEqual([true, false, false, true])
      expect((await s.b.balance(a)).available).toBe(0n)
      await s.b.postTabs()
      expect((await s.a.balance(a)).available).toBe(0n)
    })

    it('moves money once per ref: a retried top-up or grant is replayed', async () => {
      const s = await fresh()
      const a = account()
      const first = await s.a.topUp({ account: a, amount: 7n, ref: `pay_${a}` })
      const again = await atOnce(s, 8, (store) => store.topUp({ account: a, amount: 7n, ref: `pay_${a}` }))
      expect(first.replayed).toBe(false)
      expect(again.every((p) => p.replayed)).toBe(true)
      await s.b.grant({ account: a, amount: 3n, ref: `grant_${a}` })
      await s.a.grant({ account: a, amount: 3n, ref: `grant_${a}` })
      expect((await s.b.balance(a)).available).toBe(10n)
      expect(await s.a.topUpAccount(`pay_${a}`)).toBe(a)
      expect(await s.b.grantOf(`grant_${a}`)).toEqual({ account: a, amount: 3n })
    })

    it('keeps money as exact bigint: amounts past 2^53 round-trip', async () => {
      const s = await fresh()
      const a = account()
      const large = (1n << 62n) + 123_456_789n
      await s.a.topUp({ account: a, amount: large, ref: `pay_${a}` })
      expect((await s.b.balance(a)).available).toBe(large)
      const held = await s.b.reserve({ account: a, amount: large - 1n, ttlMs: 60_000 })
      expect(held.ok).toBe(true)
      expect(await s.a.balance(a)).toEqual({ available: 1n, reserved: large - 1n })
      const entries = await s.a.entries(a)
      expect(entries.every((e) => typeof e.amount === 'bigint')).toBe(true)
      expect(entries.map((e) => e.amount)).toContain(large)
    })

    it('captures, releases or expires a reservation once only', async () => {
      const s = await fresh()
      const a = account()
      await s.a.topUp({ account: a, amount: 100n, ref: `pay_${a}` })
      const held = await s.a.reserve({ account: a, amount: 100n, ttlMs: 1 })
      if (!held.ok) throw new Error('not held')
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(await s.b.expireReservations()).toBe(1)
      expect(await s.a.extend({ reservationId: held.reservationId, ttlMs: 60_000 })).toBe(false)
      expect((await s.a.balance(a)).available).toBe(100n)
      await expect(s.a.capture({ reservationId: held.reservationId, amount: 100n })).rejects.toThrow()
      expect((await s.b.balance(a)).available).toBe(100n)
    })

    it('links, finds and revokes tokens', async () => {
      const s = await fresh()
      const a = account()
      const { token, hash } = issueToken()
      await s.a.linkToken(hash, a)
      expect(await s.b.accountForToken(token)).toBe(a)
      expect(await s.b.revokeToken(token)).toBe(true)
      expect(await s.a.accountForToken(token)).toBeUndefined()
      expect(await s.a.revokeToken(token)).toBe(false)
    })

    it("revokes every token of an account at once, and no other account's", async () => {
      const s = await fresh()
      const [a, b] = [account(), account()]
      const mine = [issueToken(), issueToken()]
      const theirs = issueToken()
      for (const { hash } of mine) await s.a.linkToken(hash, a)
      await s.a.linkToken(theirs.hash, b)
      await s.a.topUp({ account: a, amount: 40n, ref: `pay_${a}` })
      expect(await s.b.revokeTokensOf(a)).toBe(2)
      for (const { token } of mine) expect(await s.a.accountForToken(token)).toBeUndefined()
      expect(await s.a.accountForToken(theirs.token)).toBe(b)
      // The credit stays with the account; a second sweep finds nothing.
      expect((await s.a.balance(a)).available).toBe(40n)
      expect(await s.a.revokeTokensOf(a)).toBe(0)
    })

    it('never overdraws when reservations and tabs race on one balance on both handles, and the books agree', async () => {
      const s = await fresh()
      const a = account()
      await s.a.topUp({ account: a, amount: 50n, ref: `pay_${a}` })
      const outcomes = await atOnce(s, 120, async (store, i) =>
        i % 3 === 0
          ? (await store.reserve({ account: a, amount: 1n, ttlMs: 60_000 })).ok
          : ((await store.tab([{ account: a, amount: 1n }]))[0] as boolean),
      )
      expect(outcomes.filter(Boolean)).toHaveLength(50)
      await s.a.postTabs()
      const balance = await s.b.balance(a)
      expect(balance.available).toBe(0n)
      expect(balance.reserved).toBe(BigInt(outcomes.filter((ok, i) => ok && i % 3 === 0).length))
      expect(await booksOf(s.a, a)).toEqual(balance)
    })

    it('settles a reservation once when both handles capture, release and expire it at once', async () => {
      const s = await fresh()
      const a = account()
      await s.a.topUp({ account: a, amount: 1_000n, ref: `pay_${a}` })
      const held = await Promise.all(
        Array.from({ length: 10 }, () => s.a.reserve({ account: a, amount: 100n, ttlMs: 1 })),
      )
      const ids = held.map((h) => (h.ok ? h.reservationId : ''))
      expect(ids.every(Boolean)).toBe(true)
      await sleep(20)
      const [captures, releases, expired] = await Promise.all([
        Promise.allSettled(ids.map((id) => s.a.capture({ reservationId: id, amount: 60n }))),
        Promise.allSettled(ids.map((id) => s.b.release({ reservationId: id, reason: 'dropped' }))),
        Promise.all([s.a.expireReservations(), s.b.expireReservations()]),
      ])
      const captured = captures.filter((c) => c.status === 'fulfilled').length
      const released = releases.filter((r) => r.status === 'fulfilled').length
      expect(captured + released + expired[0] + expired[1]).toBe(10)
      for (const [i] of ids.entries())
        expect(
          [captures[i], releases[i]].filter((r) => r?.status === 'fulfilled').length,
          `reservation ${i} settled twice`,
        ).toBeLessThanOrEqual(1)
      const balance = await s.b.balance(a)
      expect(balance).toEqual({ available: 1_000n - 60n * BigInt(captured), reserved: 0n })
      expect(await booksOf(s.b, a)).toEqual(balance)
    })

    if (options.signals === 'notified') {
      it("signals another writer's commit: version() changes on the other handle once notified", async () => {
        const s = await fresh()
        const a = account()
        await s.b.balance(a)
        const before = await settledVersion(s.b)
        await s.a.topUp({ account: a, amount: 1n, ref: `pay_${a}` })
        for (let i = 0; i < 40 && s.b.version() === before; i++) await sleep(50)
        expect(s.b.version()).not.toBe(before)
      })

      it('does not signal what nothing wrote: a refused charge and reads leave version() as it was', async () => {
        const s = await fresh()
        const a = account()
        await s.b.balance(a)
        const before = await settledVersion(s.b)
        expect(await s.a.tab([{ account: a, amount: 1n }])).toEqual([false])
        expect((await s.a.reserve({ account: a, amount: 1n, ttlMs: 1_000 })).ok).toBe(false)
        await s.a.balance(a)
        await sleep(200)
        expect(s.b.version()).toBe(before)
      })
    } else if (options.signals !== false) {
      it("signals another writer's commit: version() changes on the other handle", async () => {
        const s = await fresh()
        const before = s.b.version()
        const a = account()
        await s.a.topUp({ account: a, amount: 1n, ref: `pay_${a}` })
        expect(s.b.version()).not.toBe(before)
      })
    }
  })
}
