import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openSqlite } from '../ledger/openSqlite.js'
import { type CreditService, createCreditService, type Hold } from './creditService.js'
import { sharedCreditService } from './sharedCreditService.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let dir: string
const opened: CreditService[] = []
const service = (path = join(dir, 'credits.db')) => {
  const s = createCreditService({ path })
  opened.push(s)
  return s
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), '402x-credit-service-'))
})
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the hot path', () => {
  it('never holds more than the balance, even when every hold starts before the first read', async () => {
    const credits = service()
    const { account } = await credits.open()
    await credits.grant(account, 100n, 'g1')
    const holds = await Promise.all(Array.from({ length: 10 }, () => credits.hold(account, 30n)))
    expect(holds.filter((h) => !('ok' in h))).toHaveLength(3)
    expect(await credits.available(account)).toBe(10n)
  })

  it('writes the charges of one moment in one transaction, and the ledger agrees with memory', async () => {
    const credits = service()
    const { account } = await credits.open()
    await credits.grant(account, 1000n, 'g1')
    const holds = (await Promise.all(Array.from({ length: 50 }, () => credits.hold(account, 7n)))) as Hold[]
    const left = await Promise.all(holds.map((h, i) => credits.charge(h, i % 2 ? 7n : 3n)))
    expect(left.at(-1)).toBe(1000n - 25n * 7n - 25n * 3n)
    const durable = await credits.ledger().balance(account)
    expect(durable).toEqual({ available: 750n, reserved: 0n })
    // Written to the caller's tab in one transaction; the statement shows them as one charge.
    const entries = await credits.entries(account, 100)
    expect(entries.filter((e) => e.kind === 'charge').map((e) => [e.amount, e.note])).toEqual([[-250n, '50 charges']])
  })

  it('posts its tab as a charge within about a second, by itself, and on close', async () => {
    const credits = service()
    const { account } = await credits.open()
    await credits.grant(account, 100n, 'g1')
    await credits.charge((await credits.hold(account, 10n)) as Hold, 10n)
    await sleep(1_300)
    // Posted already: nothing left on the tab.
    expect(await credits.ledger().postTabs()).toBe(0n)
    await credits.charge((await credits.hold(account, 5n)) as Hold, 5n)
    const path = join(dir, 'credits.db')
    await credits.close()
    const reopened = service(path)
    expect(await reopened.ledger().postTabs()).toBe(0n)
    expect((await reopened.entries(account, 10)).filter((e) => e.kind === 'charge').map((e) => e.amount)).toEqual([
      -5n,
      -10n,
    ])
  })

  it('recovery expires reservations even when a tab cannot be posted, then reports that tab', async () => {
    const path = join(dir, 'credits.db')
    const credits = service(path)
    const a = await credits.open()
    const b = await credits.open()
    await credits.grant(a.account, 100n, 'ga')
    await credits.grant(b.account, 100n, 'gb')
    await credits.charge((await credits.hold(a.account, 80n)) as Hold, 80n)
    const held = await credits.reserve(b.account, 30n, 50)
    expect(held.ok).toBe(true)
    // A writer that does not know tabs (an older release) spends a's credit under its tab.
    const raw = openSqlite(path)
    raw.exec(`UPDATE credit_balances SET balance = 50 WHERE account = 'caller:${a.account}'`)
    raw.close()
    await sleep(60)
    await expect(credits.expire()).rejects.toMatchObject({ code: 'store_unavailable' })
    expect(await credits.ledger().balance(b.account)).toEqual({ available: 100n, reserved: 0n })
  })

  it('frees a dropped hold, and charges a hold once only', async () => {
    const credits = service()
    const { account } = await credits.open()
    await credits.grant(account, 10n, 'g1')
    const hold = (await credits.hold(account, 10n)) as Hold
    expect(await credits.hold(account, 1n)).toEqual({ ok: false, available: 0n })
    credits.drop(hold)
    expect(await credits.available(account)).toBe(10n)
    const again = (await credits.hold(account, 4n)) as Hold
    await credits.charge(again, 4n)
    await expect(credits.charge(again, 4n)).rejects.toThrow(/already/)
    expect((await credits.ledger().balance(account)).available).toBe(6n)
  })
})

describe('two processes on one file', () => {
  it('sees what the other granted or spent within a millisecond, once it holds nothing itself', async () => {
    const a = service()
    const b = service()
    const { account } = await a.open()
    await a.grant(account, 100n, 'g1')
    expect(await b.available(account)).toBe(100n)
    await b.grant(account, 50n, 'g2')
    await sleep(2)
    expect(await a.available(account)).toBe(150n)
    const hold = (await b.hold(account, 150n)) as Hold
    await b.charge(hold, 150n)
    await sleep(2)
    expect(await a.available(account)).toBe(0n)
  })

  it('refuses a charge the ledger no longer covers: not served, nothing charged', async () => {
    const a = service()
    const b = service()
    const { account } = await a.open()
    await a.grant(account, 100n, 'g1')
    const held = (await a.hold(account, 100n)) as Hold
    // Meanwhile the other process spends it all.
    const other = (await b.hold(account, 100n)) as Hold
    await b.charge(other, 100n)
    await expect(a.charge(held, 100n)).rejects.toMatchObject({ code: 'store_unavailable' })
    expect(await a.ledger().balance(account)).toEqual({ available: 0n, reserved: 0n })
    const charges = (await a.entries(account, 10)).filter((e) => e.kind === 'charge')
    expect(charges).toHaveLength(1)
  })
})

describe('revoking', () => {
  it('revokes a token here at once, and in another process on the file within a millisecond', async () => {
    const a = service()
    const b = service()
    const { account, token } = await a.open()
    await a.grant(account, 10n, 'g')
    expect(await a.accountFor(token)).toBe(account)
    expect(await b.accountFor(token)).toBe(account)
    expect(await a.revoke(token)).toBe(true)
    expect(await a.accountFor(token)).toBeUndefined()
    expect(a.holdNow(token, 1n)).toBeUndefined()
    await sleep(2)
    expect(await b.accountFor(token)).toBeUndefined()
    expect(b.holdNow(token, 1n)).toBeUndefined()
    expect(await a.revoke(token)).toBe(false)
  })

  it('revokes every token of an account, cached or not, here and in another process on the file', async () => {
    const a = service()
    const b = service()
    const { account, token } = await a.open()
    const second = await a.issue(account)
    await a.grant(account, 10n, 'g')
    for (const s of [a, b]) expect(await s.accountFor(token)).toBe(account)
    const held = a.holdNow(token, 1n) as Hold
    expect(held).toMatchObject({ account })
    a.drop(held)
    expect(await a.revokeTokensOf(account)).toBe(2)
    expect(a.holdNow(token, 1n)).toBeUndefined()
    expect(await a.accountFor(second)).toBeUndefined()
    await sleep(2)
    expect(await b.accountFor(token)).toBeUndefined()
    expect(b.holdNow(token, 1n)).toBeUndefined()
    expect(await a.available(account)).toBe(10n)
  })
})

describe('the shared service', () => {
  it('is one per file and process, closed by its last user', async () => {
    const path = join(dir, 'shared.db')
    const one = sharedCreditService(path)
    const two = sharedCreditService(path)
    const { account } = await one.open()
    await one.grant(account, 10n, 'g')
    const hold = (await one.hold(account, 10n)) as Hold
    // The other user sees the hold: the balances are the same object.
    expect(await two.hold(account, 1n)).toEqual({ ok: false, available: 0n })
    one.drop(hold)
    await one.close()
    expect(await two.available(account)).toBe(10n)
    await two.close()
  })
})
