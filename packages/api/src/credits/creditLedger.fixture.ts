import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X402Error } from '@402x/core'
import { afterEach, beforeEach, expect } from 'vitest'
import { openSqlite } from '../ledger/openSqlite.js'
import { type CreditLedgerOptions, createCreditLedger } from './createCreditLedger.js'
import type { CreditLedger } from './types.js'

/**
 * A fresh ledger file per test (in a temporary folder, removed after it, with every ledger
 * opened on it closed), and a clock the test moves (`t.now`). Call at the top of a test file.
 */
export function creditLedgerFiles() {
  const open: CreditLedger[] = []
  const t = {
    dir: '',
    path: '',
    now: 0,
    /** A ledger on the test's file, on the test's clock unless `options` says otherwise. */
    ledger(options: Partial<CreditLedgerOptions> = {}) {
      const created = createCreditLedger({ path: t.path, now: () => t.now, ...options })
      open.push(created)
      return created
    },
  }
  beforeEach(() => {
    t.dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
    t.path = join(t.dir, 'credits.db')
    t.now = 1_750_000_000_000
  })
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close().catch(() => {})
    rmSync(t.dir, { recursive: true, force: true })
  })
  return t
}

/** mulberry32: a small seeded PRNG, so a failing workload can be replayed. */
export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  return { next, int, big: (lo: bigint, hi: bigint) => lo + BigInt(Math.floor(next() * Number(hi - lo + 1n))) }
}

/**
 * Reads the file with its own connection and checks the double-entry invariants in BigInt:
 * the cached balance of every account is the sum of its entries, every transaction has ≥ 2
 * entries summing to zero, all balances sum to zero, no caller or hold balance is negative,
 * and each hold balance is the sum of its caller's held reservations.
 */
export function audit(file: string) {
  const db = openSqlite(file)
  try {
    const entries = db
      .prepare('SELECT transaction_id AS tx, account, CAST(amount AS TEXT) AS amount FROM credit_entries')
      .all() as { tx: number; account: string; amount: string }[]
    const balances = db.prepare('SELECT account, CAST(balance AS TEXT) AS balance FROM credit_balances').all() as {
      account: string
      balance: string
    }[]
    const transactions = db.prepare('SELECT id FROM credit_transactions').all() as { id: number }[]
    const held = db
      .prepare("SELECT account, CAST(amount AS TEXT) AS amount FROM credit_reservations WHERE state = 'held'")
      .all() as { account: string; amount: string }[]

    const byAccount = new Map<string, bigint>()
    const byTx = new Map<number, { sum: bigint; count: number }>()
    for (const e of entries) {
      byAccount.set(e.account, (byAccount.get(e.account) ?? 0n) + BigInt(e.amount))
      const t = byTx.get(e.tx) ?? { sum: 0n, count: 0 }
      byTx.set(e.tx, { sum: t.sum + BigInt(e.amount), count: t.count + 1 })
    }
    const cached = new Map(balances.map((b) => [b.account, BigInt(b.balance)]))
    for (const account of new Set([...byAccount.keys(), ...cached.keys()]))
      expect({ account, cached: cached.get(account) ?? 0n }).toEqual({ account, cached: byAccount.get(account) ?? 0n })
    expect(transactions.length).toBeGreaterThan(0)
    for (const { id } of transactions) {
      const t = byTx.get(id)
      expect({ id, count: (t?.count ?? 0) >= 2, sum: t?.sum }).toEqual({ id, count: true, sum: 0n })
    }
    expect(byTx.size).toBe(transactions.length)
    expect([...cached.values()].reduce((a, b) => a + b, 0n)).toBe(0n)
    for (const [account, balance] of cached)
      if (!account.startsWith('system:'))
        expect({ account, negative: balance < 0n }).toEqual({ account, negative: false })
    const heldBy = new Map<string, bigint>()
    for (const r of held) heldBy.set(`hold:${r.account}`, (heldBy.get(`hold:${r.account}`) ?? 0n) + BigInt(r.amount))
    for (const [account, balance] of cached)
      if (account.startsWith('hold:'))
        expect({ account, balance }).toEqual({ account, balance: heldBy.get(account) ?? 0n })
    return { entries: entries.length, transactions: transactions.length, balances: cached }
  } finally {
    db.close()
  }
}

/** Expects `promise` to reject with `invalid_request` and a message matching `message`. */
export const rejectsWith = async (promise: Promise<unknown>, message: RegExp) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(X402Error)
  expect((error as X402Error).code).toBe('invalid_request')
  expect((error as X402Error).message).toMatch(message)
}
