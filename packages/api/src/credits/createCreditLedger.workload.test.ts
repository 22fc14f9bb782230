import { describe, expect, it } from 'vitest'
import { audit, creditLedgerFiles, prng, rejectsWith } from './creditLedger.fixture.js'

const t = creditLedgerFiles()

describe('createCreditLedger: a seeded random workload', () => {
  it('keeps the books balanced under a seeded random workload (2000 operations, 20 accounts)', async () => {
    const credits = t.ledger()
    const rng = prng(402)
    const accounts = Array.from({ length: 20 }, (_, i) => `0x${i.toString(16).padStart(40, '0')}`)
    // The model: what each caller should see.
    const model = new Map(accounts.map((a) => [a, { available: 0n, reserved: 0n }]))
    const live: { id: string; account: string; amount: bigint; expiresAt: number }[] = []
    const topUps: { account: string; amount: bigint; ref: string }[] = []
    const payouts: { account: string; amount: bigint; ref: string }[] = []
    const counts: Record<string, number> = {}
    const pick = <T>(list: T[]) => list[rng.int(0, list.length - 1)]!
    const take = () => live.splice(rng.int(0, live.length - 1), 1)[0]!

    for (let i = 0; i < 2000; i++) {
      const account = pick(accounts)
      const m = model.get(account)!
      const roll = rng.next()
      let op: string
      if (roll < 0.15) {
        op = 'top_up'
        const amount = rng.big(1n, 1_000_000n)
        const result = await credits.topUp({ account, amount, ref: `pay-${i}` })
        expect(result.replayed).toBe(false)
        topUps.push({ account, amount, ref: `pay-${i}` })
        m.available += amount
      } else if (roll < 0.18 && topUps.length > 0) {
        op = 'top_up_retry'
        const again = pick(topUps)
        expect((await credits.topUp(again)).replayed).toBe(true)
      } else if (roll < 0.23) {
        op = 'grant'
        const amount = rng.big(1n, 300_000n)
        await credits.grant({ account, amount, ref: `grant-${i}`, note: 'welcome' })
        m.available += amount
      } else if (roll < 0.53) {
        op = 'reserve'
        const amount = rng.big(1n, 400_000n)
        const result = await credits.reserve({ account, amount, ttlMs: rng.int(1_000, 60_000) })
        expect(result.ok).toBe(m.available >= amount)
        if (result.ok) {
          live.push({ id: result.reservationId, account, amount, expiresAt: result.expiresAt })
          m.available -= amount
          m.reserved += amount
        } else expect(result.available).toBe(m.available)
      } else if (roll < 0.73 && live.length > 0) {
        op = 'capture'
        const r = take()
        const owner = model.get(r.account)!
        const amount = rng.next() < 0.1 ? r.amount : rng.big(0n, r.amount)
        // Past its expiry but not yet released by expiry, it is still held: capturable.
        if (r.expiresAt <= t.now) op = 'capture_expired'
        expect(await credits.capture({ reservationId: r.id, amount })).toEqual({
          captured: amount,
          released: r.amount - amount,
        })
        owner.reserved -= r.amount
        owner.available += r.amount - amount
      } else if (roll < 0.83 && live.length > 0) {
        op = 'release'
        const r = take()
        await credits.release({ reservationId: r.id, reason: 'handler_failed' })
        model.get(r.account)!.reserved -= r.amount
        model.get(r.account)!.available += r.amount
      } else if (roll < 0.88) {
        op = 'refund'
        const amount = rng.big(1n, 100_000n)
        await credits.refund({ account, amount, ref: `refund-${i}`, reason: 'bad_response' })
        m.available += amount
      } else if (roll < 0.92) {
        op = 'payout'
        const ref = `payout-${i}`
        if (rng.next() < 0.2 && payouts.length > 0) {
          op = 'payout_retry'
          expect((await credits.payout(pick(payouts))).replayed).toBe(true)
        } else if (rng.next() < 0.25 || m.available === 0n) {
          op = 'payout_refused'
          const amount = m.available + rng.big(1n, 100_000n)
          await rejectsWith(credits.payout({ account, amount, ref }), /insufficient credit/)
        } else {
          const amount = rng.next() < 0.1 ? m.available : rng.big(1n, m.available)
          expect((await credits.payout({ account, amount, ref })).replayed).toBe(false)
          payouts.push({ account, amount, ref })
          m.available -= amount
        }
      } else if (roll < 0.94) {
        op = 'tab'
        const amount = rng.big(1n, 200_000n)
        const [ok] = await credits.tab([{ account, amount }])
        expect(ok).toBe(m.available >= amount)
        if (ok) m.available -= amount
      } else if (roll < 0.95) {
        op = 'post_tabs'
        await credits.postTabs(rng.next() < 0.5 ? account : undefined)
      } else if (roll < 0.97) {
        op = 'tick'
        t.now += rng.int(0, 20_000)
      } else {
        op = 'expire'
        const due = live.filter((r) => r.expiresAt <= t.now)
        expect(await credits.expireReservations()).toBe(due.length)
        for (const r of due) {
          live.splice(live.indexOf(r), 1)
          model.get(r.account)!.reserved -= r.amount
          model.get(r.account)!.available += r.amount
        }
      }
      counts[op] = (counts[op] ?? 0) + 1
      // Every touched caller matches the model, and nobody is ever negative.
      for (const a of new Set([account, ...live.slice(-1).map((r) => r.account)])) {
        const seen = await credits.balance(a)
        expect({ a, ...seen }).toEqual({ a, ...model.get(a)! })
        expect(seen.available >= 0n && seen.reserved >= 0n).toBe(true)
      }
    }

    // Every operation kind ran, many times.
    for (const op of ['top_up', 'top_up_retry', 'grant', 'reserve', 'capture', 'release', 'refund', 'payout', 'tick'])
      expect(counts[op] ?? 0, op).toBeGreaterThan(20)
    for (const op of ['expire', 'payout_retry', 'payout_refused', 'tab', 'post_tabs'])
      expect(counts[op] ?? 0, op).toBeGreaterThan(5)
    expect(counts.capture_expired ?? 0).toBeGreaterThan(0)
    for (const a of accounts) expect({ a, ...(await credits.balance(a)) }).toEqual({ a, ...model.get(a)! })
    await credits.postTabs()
    const books = audit(t.path)
    expect(books.transactions).toBeGreaterThan(1000)
    expect(books.balances.get('system:payouts')).toBe(payouts.reduce((sum, p) => sum + p.amount, 0n))
    // The entries a caller sees are its own, newest first.
    const mine = await credits.entries(accounts[0]!, { limit: 1000 })
    expect(mine.every((e) => e.account === `caller:${accounts[0]}` || e.account === `hold:${accounts[0]}`)).toBe(true)
    expect(mine.map((e) => e.id)).toEqual(mine.map((e) => e.id).sort((x, y) => y - x))
  })
})
