import { X402Error } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { openSqlite } from '../ledger/openSqlite.js'
import { createCreditLedger } from './createCreditLedger.js'
import { audit, creditLedgerFiles, rejectsWith } from './creditLedger.fixture.js'
import { issueToken } from './tokens.js'

// The seeded random workload is in createCreditLedger.workload.test.ts, the races between
// processes on one file in createCreditLedger.processes.test.ts.
const t = creditLedgerFiles()

describe('createCreditLedger', () => {
  it('lets exactly 50 of 200 concurrent 1-unit reservations through a balance of 50', async () => {
    const credits = t.ledger()
    await credits.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        credits.reserve({ account: 'alice', amount: 1n, ttlMs: 60_000, ref: `r${i}` }),
      ),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(50)
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.available === 0n)).toBe(true)
    expect(await credits.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    audit(t.path)
  })

  it('lets exactly 50 through when two ledger instances (two connections to one file) race', async () => {
    const a = t.ledger()
    const b = t.ledger()
    await a.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).reserve({ account: 'alice', amount: 1n, ttlMs: 60_000 })),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(50)
    expect(await a.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    expect(await b.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    audit(t.path)
  })

  it('posts every tab it can: one it cannot post stays on the tab and holds back no other', async () => {
    const credits = t.ledger()
    await credits.grant({ account: 'a', amount: 100n, ref: 'ga' })
    await credits.grant({ account: 'b', amount: 100n, ref: 'gb' })
    expect(await credits.tab([{ account: 'a', amount: 80n }])).toEqual([true])
    expect(await credits.tab([{ account: 'b', amount: 30n }])).toEqual([true])
    // A writer that does not know tabs (an older release on the same file) spends a's credit.
    const raw = openSqlite(t.path)
    raw.exec("UPDATE credit_balances SET balance = 50 WHERE account = 'caller:a'")
    raw.close()
    await expect(credits.postTabs()).rejects.toMatchObject({ code: 'store_unavailable' })
    // b's tab was posted; a's stays, still counted against a's balance.
    expect(await credits.postTabs('b')).toBe(0n)
    expect(await credits.balance('b')).toEqual({ available: 70n, reserved: 0n })
    expect(await credits.balance('a')).toEqual({ available: -30n, reserved: 0n })
    expect(await credits.tab([{ account: 'a', amount: 1n }])).toEqual([false])
    // The statement is still listed.
    expect((await credits.entries('a')).map((e) => e.kind)).toEqual(['grant'])
  })

  it('credits a top-up once when its ref is posted twice, and refuses the ref for another top-up', async () => {
    const credits = t.ledger()
    const first = await credits.topUp({ account: 'alice', amount: 1_000_000n, ref: 'payment-abc' })
    const again = await credits.topUp({ account: 'alice', amount: 1_000_000n, ref: 'payment-abc' })
    expect(first.replayed).toBe(false)
    expect(again).toEqual({ transactionId: first.transactionId, replayed: true })
    expect(await credits.balance('alice')).toEqual({ available: 1_000_000n, reserved: 0n })
    expect(await credits.entries('alice')).toHaveLength(1)
    await rejectsWith(
      credits.topUp({ account: 'bob', amount: 1_000_000n, ref: 'payment-abc' }),
      /already used.*new ref/,
    )
    await rejectsWith(credits.topUp({ account: 'alice', amount: 2n, ref: 'payment-abc' }), /already used/)
    // A grant may reuse the text of a top-up ref: refs are per kind.
    expect((await credits.grant({ account: 'alice', amount: 5n, ref: 'payment-abc' })).replayed).toBe(false)
    // A reserve retried with its ref returns the same reservation and holds once.
    const r1 = await credits.reserve({ account: 'alice', amount: 10n, ttlMs: 1_000, ref: 'req-1' })
    const r2 = await credits.reserve({ account: 'alice', amount: 10n, ttlMs: 1_000, ref: 'req-1' })
    expect(r2).toEqual(r1)
    expect(await credits.balance('alice')).toEqual({ available: 999_995n, reserved: 10n })
    expect(audit(t.path).balances.get('system:topups')).toBe(-1_000_000n)
  })

  it('pays out available credit once per ref, and refuses more than is available without moving anything', async () => {
    const credits = t.ledger()
    await credits.topUp({ account: 'alice', amount: 1_000n, ref: 'pay-1' })
    const hold = await credits.reserve({ account: 'alice', amount: 300n, ttlMs: 60_000 })
    expect(hold.ok).toBe(true)

    const first = await credits.payout({ account: 'alice', amount: 600n, ref: 'po-1', note: 'to 0xabc' })
    expect(first.replayed).toBe(false)
    expect(await credits.payout({ account: 'alice', amount: 600n, ref: 'po-1' })).toEqual({
      transactionId: first.transactionId,
      replayed: true,
    })
    expect(await credits.balance('alice')).toEqual({ available: 100n, reserved: 300n })
    await rejectsWith(credits.payout({ account: 'alice', amount: 5n, ref: 'po-1' }), /already used.*new ref/)
    await rejectsWith(credits.payout({ account: 'bob', amount: 600n, ref: 'po-1' }), /already used/)

    // The reserved 300 is not available: 101 is refused with what is, and nothing moves.
    const error = await credits.payout({ account: 'alice', amount: 101n, ref: 'po-2' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(X402Error)
    expect((error as X402Error).code).toBe('invalid_request')
    expect((error as X402Error).message).toMatch(/insufficient credit.*available credit is 100.*at most 100/)
    expect((error as X402Error).details).toMatchObject({ reason: 'insufficient_credit', available: '100' })
    await rejectsWith(credits.payout({ account: 'nobody', amount: 1n, ref: 'po-3' }), /available credit is 0/)
    expect(await credits.balance('alice')).toEqual({ available: 100n, reserved: 300n })

    // The refused ref is free: the exact balance pays out, down to 0, never below.
    expect((await credits.payout({ account: 'alice', amount: 100n, ref: 'po-2' })).replayed).toBe(false)
    expect(await credits.balance('alice')).toEqual({ available: 0n, reserved: 300n })
    const mine = await credits.entries('alice')
    expect(mine.filter((e) => e.kind === 'payout').map((e) => [e.account, e.amount, e.ref])).toEqual([
      ['caller:alice', -100n, 'po-2'],
      ['caller:alice', -600n, 'po-1'],
    ])
    // A payout ref is its own namespace: a top-up may reuse the text.
    expect((await credits.topUp({ account: 'alice', amount: 1n, ref: 'po-1' })).replayed).toBe(false)
    expect(audit(t.path).balances.get('system:payouts')).toBe(700n)
  })

  it('lets exactly 50 of 200 concurrent 1-unit payouts through a balance of 50', async () => {
    const a = t.ledger()
    const b = t.ledger()
    await a.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).payout({ account: 'alice', amount: 1n, ref: `po-${i}` })),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(50)
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as X402Error).details.reason).toBe('insufficient_credit')
    expect(await a.balance('alice')).toEqual({ available: 0n, reserved: 0n })
    expect(audit(t.path).balances.get('system:payouts')).toBe(50n)
  })

  it('tabs a batch in one transaction, as far as each balance goes, and posts the tabs as charges', async () => {
    const credits = t.ledger()
    await credits.grant({ account: 'a', amount: 100n, ref: 'ga' })
    await credits.grant({ account: 'b', amount: 10n, ref: 'gb' })
    const items = [
      { account: 'a', amount: 60n },
      { account: 'b', amount: 4n },
      { account: 'a', amount: 60n }, // a cannot cover both: the second is refused
      { account: 'b', amount: 6n },
    ]
    expect(await credits.tab(items)).toEqual([true, true, false, true])
    // The tab counts at once, before it is posted: for balances, reservations and payouts.
    expect(await credits.balance('a')).toEqual({ available: 40n, reserved: 0n })
    expect(await credits.balance('b')).toEqual({ available: 0n, reserved: 0n })
    expect(await credits.reserve({ account: 'a', amount: 41n, ttlMs: 1_000 })).toMatchObject({
      ok: false,
      available: 40n,
    })
    await rejectsWith(credits.payout({ account: 'b', amount: 1n, ref: 'po-b' }), /available credit is 0/)
    expect(await credits.tab([{ account: 'b', amount: 1n }])).toEqual([false])
    expect(audit(t.path).balances.get('system:revenue')).toBeUndefined() // nothing posted yet

    // Posting moves the tabs into the books, one charge per caller; twice posts nothing more.
    expect(await credits.postTabs()).toBe(70n)
    expect(await credits.postTabs()).toBe(0n)
    expect(await credits.balance('a')).toEqual({ available: 40n, reserved: 0n })
    expect(await credits.balance('b')).toEqual({ available: 0n, reserved: 0n })
    const charges = (await credits.entries('b')).filter((e) => e.kind === 'charge')
    expect(charges.map((e) => [e.account, e.amount, e.note])).toEqual([['caller:b', -10n, '2 charges']])
    expect(audit(t.path).balances.get('system:revenue')).toBe(70n)
  })

  it('posts a tab from another connection (a crashed process’s tab), and before listing entries', async () => {
    const crashed = t.ledger()
    await crashed.grant({ account: 'a', amount: 100n, ref: 'ga' })
    expect(await crashed.tab([{ account: 'a', amount: 30n }])).toEqual([true])
    expect(await crashed.tab([{ account: 'a', amount: 5n }])).toEqual([true])
    await crashed.close() // the process dies before it posts its tab
    const restarted = t.ledger()
    expect(await restarted.balance('a')).toEqual({ available: 65n, reserved: 0n })
    // Listing the entries posts the caller's tab first: the statement is complete.
    const listed = await restarted.entries('a')
    expect(listed.map((e) => [e.kind, e.amount, e.note])).toEqual([
      ['charge', -35n, '2 charges'],
      ['grant', 100n, undefined],
    ])
    expect(await restarted.postTabs('a')).toBe(0n)
    expect(audit(t.path).balances.get('system:revenue')).toBe(35n)
  })

  it('releases expired reservations, which then cannot be captured; extended and captured ones stay', async () => {
    const credits = t.ledger()
    await credits.topUp({ account: 'alice', amount: 100n, ref: 'pay-1' })
    const short = await credits.reserve({ account: 'alice', amount: 30n, ttlMs: 1_000 })
    const long = await credits.reserve({ account: 'alice', amount: 20n, ttlMs: 10_000 })
    const done = await credits.reserve({ account: 'alice', amount: 10n, ttlMs: 1_000 })
    if (!short.ok || !long.ok || !done.ok) throw new Error('the reservations should fit')
    await credits.capture({ reservationId: done.reservationId, amount: 7n })
    expect(await credits.balance('alice')).toEqual({ available: 43n, reserved: 50n })

    t.now += 1_000 // `short` expires now (expiry is inclusive)
    // A running request keeps its reservation: `long`, extended, is not due at its first expiry.
    expect(await credits.extend({ reservationId: long.reservationId, ttlMs: 20_000 })).toBe(true)
    expect(await credits.expireReservations()).toBe(1)
    expect(await credits.expireReservations()).toBe(0)
    expect(await credits.balance('alice')).toEqual({ available: 73n, reserved: 20n })
    await rejectsWith(credits.capture({ reservationId: short.reservationId, amount: 1n }), /already expired/)
    await rejectsWith(credits.release({ reservationId: short.reservationId, reason: 'x' }), /already expired/)

    expect(await credits.extend({ reservationId: short.reservationId, ttlMs: 20_000 })).toBe(false)
    // An explicit `now` (a sweeper's clock) works too; the captured one is never touched.
    expect(await credits.expireReservations(t.now + 9_000)).toBe(0)
    expect(await credits.expireReservations(t.now + 20_000)).toBe(1)
    expect(await credits.balance('alice')).toEqual({ available: 93n, reserved: 0n })
    const books = audit(t.path)
    expect(books.balances.get('system:revenue')).toBe(7n)
    const kinds = (await credits.entries('alice')).map((e) => e.kind)
    expect(kinds.filter((k) => k === 'expire')).toHaveLength(4) // hold − and caller +, twice
    expect(kinds.filter((k) => k === 'capture')).toHaveLength(2) // hold −10, caller +3 (revenue +7 is not alice's)
  })

  it('expires a crashed process’s reservation from another ledger instance', async () => {
    const crashed = t.ledger()
    await crashed.topUp({ account: 'alice', amount: 100n, ref: 'pay-1' })
    const hold = await crashed.reserve({ account: 'alice', amount: 60n, ttlMs: 5_000 })
    expect(hold.ok).toBe(true)
    await crashed.close() // the process dies before capture
    const restarted = t.ledger()
    expect(await restarted.balance('alice')).toEqual({ available: 40n, reserved: 60n })
    t.now += 5_000
    expect(await restarted.expireReservations()).toBe(1)
    expect(await restarted.balance('alice')).toEqual({ available: 100n, reserved: 0n })
    audit(t.path)
  })

  it('captures 0 (a full release), exactly the hold, and refuses more or twice', async () => {
    const credits = t.ledger()
    await credits.grant({ account: 'alice', amount: 100n, ref: 'g1', note: 'trial' })
    const reserve = async (amount: bigint) => {
      const r = await credits.reserve({ account: 'alice', amount, ttlMs: 60_000 })
      if (!r.ok) throw new Error('the reservation should fit')
      return r.reservationId
    }
    const zero = await reserve(10n)
    expect(await credits.capture({ reservationId: zero, amount: 0n })).toEqual({ captured: 0n, released: 10n })
    expect(await credits.balance('alice')).toEqual({ available: 100n, reserved: 0n })

    const exact = await reserve(25n)
    expect(await credits.capture({ reservationId: exact, amount: 25n })).toEqual({ captured: 25n, released: 0n })
    expect(await credits.balance('alice')).toEqual({ available: 75n, reserved: 0n })
    await rejectsWith(credits.capture({ reservationId: exact, amount: 25n }), /already captured.*once only/)
    await rejectsWith(credits.release({ reservationId: exact, reason: 'late' }), /already captured/)

    const over = await reserve(5n)
    await rejectsWith(credits.capture({ reservationId: over, amount: 6n }), /cannot capture 6 .* holds 5/)
    expect(await credits.balance('alice')).toEqual({ available: 70n, reserved: 5n }) // nothing moved
    await credits.release({ reservationId: over, reason: 'handler_failed' })
    await rejectsWith(credits.capture({ reservationId: over, amount: 1n }), /already released/)
    await rejectsWith(credits.capture({ reservationId: 'rsv_nope', amount: 1n }), /no reservation `rsv_nope`/)

    const refund = await credits.refund({ account: 'alice', amount: 25n, ref: 'rf1', reason: 'bad_response' })
    expect(refund.replayed).toBe(false)
    expect(await credits.balance('alice')).toEqual({ available: 100n, reserved: 0n })
    expect(audit(t.path).balances.get('system:revenue')).toBe(0n)
  })

  it('refuses bad input with a message that says what to pass', async () => {
    const credits = t.ledger()
    await rejectsWith(credits.topUp({ account: 'alice', amount: 0n, ref: 'p' }), /must be positive/)
    await rejectsWith(credits.grant({ account: 'alice', amount: -5n, ref: 'g' }), /must be positive/)
    await rejectsWith(credits.topUp({ account: 'alice', amount: 1 as unknown as bigint, ref: 'p' }), /bigint/)
    await rejectsWith(credits.topUp({ account: 'alice', amount: 1n << 63n, ref: 'p' }), /below 2\^63/)
    await rejectsWith(credits.topUp({ account: '', amount: 1n, ref: 'p' }), /account must be/)
    await rejectsWith(credits.reserve({ account: 'alice', amount: 1n, ttlMs: 0 }), /ttlMs/)
    await rejectsWith(credits.payout({ account: 'alice', amount: 0n, ref: 'po' }), /must be positive/)
    await rejectsWith(credits.payout({ account: 'alice', amount: 1n, ref: '' }), /ref must be/)
    await rejectsWith(credits.capture({ reservationId: 'r', amount: -1n }), /zero or more/)
    expect(await credits.reserve({ account: 'nobody', amount: 1n, ttlMs: 1_000 })).toEqual({
      ok: false,
      reason: 'insufficient_credit',
      available: 0n,
    })
  })

  it('refuses a credit that would take a balance past 2^63 as bad input, writing nothing', async () => {
    const credits = t.ledger()
    const big = (1n << 62n) + 1n
    await credits.grant({ account: 'whale', amount: big, ref: 'g1' })
    const error = await credits.grant({ account: 'whale', amount: big, ref: 'g2' }).catch((e: unknown) => e)
    expect((error as X402Error).code).toBe('invalid_request')
    expect((error as X402Error).message).toMatch(/past 2\^63 atomic units: give a smaller amount/)
    // The other side of the posting (system:grants) is checked too: another account.
    const other = await credits.grant({ account: 'minnow', amount: big, ref: 'g3' }).catch((e: unknown) => e)
    expect((other as X402Error).code).toBe('invalid_request')
    expect(await credits.balance('whale')).toEqual({ available: big, reserved: 0n })
    expect(await credits.balance('minnow')).toEqual({ available: 0n, reserved: 0n })
  })

  it('reports a broken store as store_unavailable', async () => {
    const credits = createCreditLedger({ path: t.path })
    await credits.close()
    const error = await credits.balance('alice').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(X402Error)
    expect((error as X402Error).code).toBe('store_unavailable')
    expect((error as X402Error).retryable).toBe(true)
  })

  it('stores only token hashes, and finds the account for the right token only', async () => {
    const credits = t.ledger()
    const { token, hash } = issueToken()
    expect(token).toMatch(/^x402c_[A-Za-z0-9_-]{43}$/)
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    await credits.linkToken(hash, 'alice')
    await credits.linkToken(hash, 'alice') // linking again is harmless
    await rejectsWith(credits.linkToken(hash, 'bob'), /already linked/)
    await rejectsWith(credits.linkToken(token, 'alice'), /hash/)
    expect(await credits.accountForToken(token)).toBe('alice')
    expect(await credits.accountForToken(issueToken().token)).toBeUndefined()
    const oneCharOff = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    expect(await credits.accountForToken(oneCharOff)).toBeUndefined()
    expect(await credits.accountForToken(hash)).toBeUndefined()

    await credits.close()
    const db = openSqlite(t.path)
    try {
      const rows = db.prepare('SELECT * FROM credit_tokens').all() as Record<string, unknown>[]
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ hash, account: 'alice' })
      const secret = token.slice('x402c_'.length)
      for (const value of Object.values(rows[0]!)) expect(String(value)).not.toContain(secret)
    } finally {
      db.close()
    }
  })
})
