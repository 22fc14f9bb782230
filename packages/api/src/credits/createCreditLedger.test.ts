import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { X402Error } from '@402x/core'
import ts from 'typescript'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openSqlite } from '../ledger/openSqlite.js'
import { type CreditLedgerOptions, createCreditLedger } from './createCreditLedger.js'
import { issueToken } from './tokens.js'
import type { CreditLedger } from './types.js'

let dir: string
let path: string
let now: number
const open: CreditLedger[] = []

const ledger = (options: Partial<CreditLedgerOptions> = {}) => {
  const created = createCreditLedger({ path, now: () => now, ...options })
  open.push(created)
  return created
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  path = join(dir, 'credits.db')
  now = 1_750_000_000_000
})

afterEach(async () => {
  for (const l of open.splice(0)) await l.close().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

/** mulberry32: a small seeded PRNG, so a failing workload can be replayed. */
function prng(seed: number) {
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
function audit(file: string) {
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

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Writes the ledger as plain ESM (Node 20 runs no TypeScript) and a child script that opens
 * the file, says `ready`, waits for a line on stdin, then makes `n` 1-unit reservations at once.
 */
function buildChild(out: string): string {
  const sources: Record<string, string> = {
    'credits/createCreditLedger.js': join(here, 'createCreditLedger.ts'),
    'credits/schema.js': join(here, 'schema.ts'),
    'credits/creditQueries.js': join(here, 'creditQueries.ts'),
    'credits/creditRows.js': join(here, 'creditRows.ts'),
    'credits/creditTokens.js': join(here, 'creditTokens.ts'),
    'credits/tokens.js': join(here, 'tokens.ts'),
    'credits/sqliteCreditAdmin.js': join(here, 'sqliteCreditAdmin.ts'),
    'credits/creditAdmin.js': join(here, 'creditAdmin.ts'),
    'ledger/openSqlite.js': join(here, '../ledger/openSqlite.ts'),
    'stores/sqliteSchema.js': join(here, '../stores/sqliteSchema.ts'),
    'credits/sqliteCreditTabs.js': join(here, 'sqliteCreditTabs.ts'),
    'webhooks/outboxId.js': join(here, '../webhooks/outboxId.ts'),
    'webhooks/sqliteStoreEvents.js': join(here, '../webhooks/sqliteStoreEvents.ts'),
    'webhooks/eventIds.js': join(here, '../webhooks/eventIds.ts'),
    'core.js': join(here, '../../../core/src/errors.ts'),
  }
  for (const [to, from] of Object.entries(sources)) {
    const { outputText } = ts.transpileModule(readFileSync(from, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    })
    mkdirSync(dirname(join(out, to)), { recursive: true })
    writeFileSync(join(out, to), outputText.replace("from '@402x/core'", "from '../core.js'"))
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}')
  writeFileSync(
    join(out, 'child.js'),
    `import { createCreditLedger } from './credits/createCreditLedger.js'
const [path, n] = process.argv.slice(2)
const ledger = createCreditLedger({ path })
process.stdout.write('ready\\n')
process.stdin.once('data', async () => {
  // Half reservations (metered requests), half tabs (the hot path's charges).
  const results = await Promise.all(
    Array.from({ length: Number(n) }, (_, i) =>
      i % 2
        ? ledger.reserve({ account: 'alice', amount: 1n, ttlMs: 60000 }).then((r) => (r.ok ? 'reserved' : 'no'))
        : ledger.tab([{ account: 'alice', amount: 1n }]).then(([ok]) => (ok ? 'tabbed' : 'no')),
    ),
  )
  await ledger.close()
  const count = (what) => results.filter((r) => r === what).length
  process.stdout.write('ok ' + (count('reserved') + count('tabbed')) + ' ' + count('reserved') + '\\n')
  process.stdin.destroy()
})
`,
  )
  // A writer tabs and posts for `n` ms; a reader reads the balance and counts each time the
  // available credit went up (it never should: nothing else credits the account).
  writeFileSync(
    join(out, 'tabs.js'),
    `import { createCreditLedger } from './credits/createCreditLedger.js'
const [path, role, n] = process.argv.slice(2)
const ledger = createCreditLedger({ path })
process.stdout.write('ready\\n')
process.stdin.once('data', async () => {
  const end = Date.now() + Number(n)
  let tabbed = 0, reads = 0, rose = 0, last
  for (let i = 1; Date.now() < end; i++) {
    if (role === 'reader') {
      const { available } = await ledger.balance('alice')
      reads++
      if (last !== undefined && available > last) rose++
      last = available
    } else {
      if ((await ledger.tab([{ account: 'alice', amount: 1n }]))[0]) tabbed++
      if (i % 3 === 0) await ledger.postTabs()
    }
  }
  await ledger.close()
  process.stdout.write('ok ' + tabbed + ' ' + reads + ' ' + rose + '\\n')
  process.stdin.destroy()
})
`,
  )
  return join(out, 'child.js')
}

/** The first match of `pattern` on a child's stdout, within `ms`. */
function waitFor(child: ChildProcessWithoutNullStreams, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no ${pattern} from the child within ${ms} ms: ${out}`)), ms)
    const onData = (chunk: Buffer) => {
      out += chunk
      const match = out.match(pattern)
      if (match) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolve(match)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the child exited (${code}) before ${pattern}: ${out}`))
    })
  })
}

const rejectsWith = async (promise: Promise<unknown>, message: RegExp) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(X402Error)
  expect((error as X402Error).code).toBe('invalid_request')
  expect((error as X402Error).message).toMatch(message)
}

describe('createCreditLedger', () => {
  it('keeps the books balanced under a seeded random workload (2000 operations, 20 accounts)', async () => {
    const credits = ledger()
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
        if (r.expiresAt <= now) op = 'capture_expired'
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
        now += rng.int(0, 20_000)
      } else {
        op = 'expire'
        const due = live.filter((r) => r.expiresAt <= now)
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
    const books = audit(path)
    expect(books.transactions).toBeGreaterThan(1000)
    expect(books.balances.get('system:payouts')).toBe(payouts.reduce((sum, p) => sum + p.amount, 0n))
    // The entries a caller sees are its own, newest first.
    const mine = await credits.entries(accounts[0]!, { limit: 1000 })
    expect(mine.every((e) => e.account === `caller:${accounts[0]}` || e.account === `hold:${accounts[0]}`)).toBe(true)
    expect(mine.map((e) => e.id)).toEqual(mine.map((e) => e.id).sort((x, y) => y - x))
  })

  it('lets exactly 50 of 200 concurrent 1-unit reservations through a balance of 50', async () => {
    const credits = ledger()
    await credits.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        credits.reserve({ account: 'alice', amount: 1n, ttlMs: 60_000, ref: `r${i}` }),
      ),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(50)
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.available === 0n)).toBe(true)
    expect(await credits.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    audit(path)
  })

  it('lets exactly 50 through when two ledger instances (two connections to one file) race', async () => {
    const a = ledger()
    const b = ledger()
    await a.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).reserve({ account: 'alice', amount: 1n, ttlMs: 60_000 })),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(50)
    expect(await a.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    expect(await b.balance('alice')).toEqual({ available: 0n, reserved: 50n })
    audit(path)
  })

  it('lets exactly 50 through when four processes race on one file, reserving and tabbing', async () => {
    const seed = ledger()
    await seed.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const script = buildChild(join(dir, 'child'))
    // The transpiled openSqlite resolves better-sqlite3 from outside the repository.
    const modules = dirname(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')))
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [script, path, '50'], { env: { ...process.env, NODE_PATH: modules }, stdio: 'pipe' }),
    )
    try {
      await Promise.all(children.map((child) => waitFor(child, /ready\n/, 20_000)))
      const done = children.map((child) => waitFor(child, /ok (\d+) (\d+)\n/, 30_000))
      for (const child of children) child.stdin.write('go\n')
      const answers = await Promise.all(done)
      const sum = (i: number) => answers.reduce((total, match) => total + Number(match[i]), 0)
      expect(sum(1)).toBe(50)
      expect(await seed.balance('alice')).toEqual({ available: 0n, reserved: BigInt(sum(2)) })
      expect(await seed.postTabs()).toBe(BigInt(50 - sum(2)))
      audit(path)
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill()
    }
  })

  it('posts every tab it can: one it cannot post stays on the tab and holds back no other', async () => {
    const credits = ledger()
    await credits.grant({ account: 'a', amount: 100n, ref: 'ga' })
    await credits.grant({ account: 'b', amount: 100n, ref: 'gb' })
    expect(await credits.tab([{ account: 'a', amount: 80n }])).toEqual([true])
    expect(await credits.tab([{ account: 'b', amount: 30n }])).toEqual([true])
    // A writer that does not know tabs (an older release on the same file) spends a's credit.
    const raw = openSqlite(path)
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

  it('reads a balance from one snapshot while other processes tab and post: available credit never rises', async () => {
    const seed = ledger()
    await seed.topUp({ account: 'alice', amount: 1_000_000_000n, ref: 'pay-1' })
    buildChild(join(dir, 'child'))
    const script = join(dir, 'child', 'tabs.js')
    const modules = dirname(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')))
    const roles = ['writer', 'writer', 'reader']
    const children = roles.map((role) =>
      spawn(process.execPath, [script, path, role, '1500'], {
        env: { ...process.env, NODE_PATH: modules },
        stdio: 'pipe',
      }),
    )
    try {
      await Promise.all(children.map((child) => waitFor(child, /ready\n/, 20_000)))
      const done = children.map((child) => waitFor(child, /ok (\d+) (\d+) (\d+)\n/, 30_000))
      for (const child of children) child.stdin.write('go\n')
      const answers = await Promise.all(done)
      const tabbed = answers.reduce((sum, match) => sum + BigInt(match[1] as string), 0n)
      const [, , reads, rose] = answers[2] as RegExpMatchArray
      expect(tabbed).toBeGreaterThan(100n)
      expect(Number(reads)).toBeGreaterThan(100)
      expect(Number(rose)).toBe(0)
      expect(await seed.balance('alice')).toEqual({ available: 1_000_000_000n - tabbed, reserved: 0n })
      await seed.postTabs()
      expect(audit(path).balances.get('system:revenue')).toBe(tabbed)
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill()
    }
  })

  it('credits a top-up once when its ref is posted twice, and refuses the ref for another top-up', async () => {
    const credits = ledger()
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
    expect(audit(path).balances.get('system:topups')).toBe(-1_000_000n)
  })

  it('pays out available credit once per ref, and refuses more than is available without moving anything', async () => {
    const credits = ledger()
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
    expect(audit(path).balances.get('system:payouts')).toBe(700n)
  })

  it('lets exactly 50 of 200 concurrent 1-unit payouts through a balance of 50', async () => {
    const a = ledger()
    const b = ledger()
    await a.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).payout({ account: 'alice', amount: 1n, ref: `po-${i}` })),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(50)
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as X402Error).details.reason).toBe('insufficient_credit')
    expect(await a.balance('alice')).toEqual({ available: 0n, reserved: 0n })
    expect(audit(path).balances.get('system:payouts')).toBe(50n)
  })

  it('tabs a batch in one transaction, as far as each balance goes, and posts the tabs as charges', async () => {
    const credits = ledger()
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
    expect(audit(path).balances.get('system:revenue')).toBeUndefined() // nothing posted yet

    // Posting moves the tabs into the books, one charge per caller; twice posts nothing more.
    expect(await credits.postTabs()).toBe(70n)
    expect(await credits.postTabs()).toBe(0n)
    expect(await credits.balance('a')).toEqual({ available: 40n, reserved: 0n })
    expect(await credits.balance('b')).toEqual({ available: 0n, reserved: 0n })
    const charges = (await credits.entries('b')).filter((e) => e.kind === 'charge')
    expect(charges.map((e) => [e.account, e.amount, e.note])).toEqual([['caller:b', -10n, '2 charges']])
    expect(audit(path).balances.get('system:revenue')).toBe(70n)
  })

  it('posts a tab from another connection (a crashed process’s tab), and before listing entries', async () => {
    const crashed = ledger()
    await crashed.grant({ account: 'a', amount: 100n, ref: 'ga' })
    expect(await crashed.tab([{ account: 'a', amount: 30n }])).toEqual([true])
    expect(await crashed.tab([{ account: 'a', amount: 5n }])).toEqual([true])
    await crashed.close() // the process dies before it posts its tab
    const restarted = ledger()
    expect(await restarted.balance('a')).toEqual({ available: 65n, reserved: 0n })
    // Listing the entries posts the caller's tab first: the statement is complete.
    const listed = await restarted.entries('a')
    expect(listed.map((e) => [e.kind, e.amount, e.note])).toEqual([
      ['charge', -35n, '2 charges'],
      ['grant', 100n, undefined],
    ])
    expect(await restarted.postTabs('a')).toBe(0n)
    expect(audit(path).balances.get('system:revenue')).toBe(35n)
  })

  it('releases expired reservations, which then cannot be captured; extended and captured ones stay', async () => {
    const credits = ledger()
    await credits.topUp({ account: 'alice', amount: 100n, ref: 'pay-1' })
    const short = await credits.reserve({ account: 'alice', amount: 30n, ttlMs: 1_000 })
    const long = await credits.reserve({ account: 'alice', amount: 20n, ttlMs: 10_000 })
    const done = await credits.reserve({ account: 'alice', amount: 10n, ttlMs: 1_000 })
    if (!short.ok || !long.ok || !done.ok) throw new Error('the reservations should fit')
    await credits.capture({ reservationId: done.reservationId, amount: 7n })
    expect(await credits.balance('alice')).toEqual({ available: 43n, reserved: 50n })

    now += 1_000 // `short` expires now (expiry is inclusive)
    // A running request keeps its reservation: `long`, extended, is not due at its first expiry.
    expect(await credits.extend({ reservationId: long.reservationId, ttlMs: 20_000 })).toBe(true)
    expect(await credits.expireReservations()).toBe(1)
    expect(await credits.expireReservations()).toBe(0)
    expect(await credits.balance('alice')).toEqual({ available: 73n, reserved: 20n })
    await rejectsWith(credits.capture({ reservationId: short.reservationId, amount: 1n }), /already expired/)
    await rejectsWith(credits.release({ reservationId: short.reservationId, reason: 'x' }), /already expired/)

    expect(await credits.extend({ reservationId: short.reservationId, ttlMs: 20_000 })).toBe(false)
    // An explicit `now` (a sweeper's clock) works too; the captured one is never touched.
    expect(await credits.expireReservations(now + 9_000)).toBe(0)
    expect(await credits.expireReservations(now + 20_000)).toBe(1)
    expect(await credits.balance('alice')).toEqual({ available: 93n, reserved: 0n })
    const books = audit(path)
    expect(books.balances.get('system:revenue')).toBe(7n)
    const kinds = (await credits.entries('alice')).map((e) => e.kind)
    expect(kinds.filter((k) => k === 'expire')).toHaveLength(4) // hold − and caller +, twice
    expect(kinds.filter((k) => k === 'capture')).toHaveLength(2) // hold −10, caller +3 (revenue +7 is not alice's)
  })

  it('expires a crashed process’s reservation from another ledger instance', async () => {
    const crashed = ledger()
    await crashed.topUp({ account: 'alice', amount: 100n, ref: 'pay-1' })
    const hold = await crashed.reserve({ account: 'alice', amount: 60n, ttlMs: 5_000 })
    expect(hold.ok).toBe(true)
    await crashed.close() // the process dies before capture
    const restarted = ledger()
    expect(await restarted.balance('alice')).toEqual({ available: 40n, reserved: 60n })
    now += 5_000
    expect(await restarted.expireReservations()).toBe(1)
    expect(await restarted.balance('alice')).toEqual({ available: 100n, reserved: 0n })
    audit(path)
  })

  it('captures 0 (a full release), exactly the hold, and refuses more or twice', async () => {
    const credits = ledger()
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
    expect(audit(path).balances.get('system:revenue')).toBe(0n)
  })

  it('refuses bad input with a message that says what to pass', async () => {
    const credits = ledger()
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
    const credits = ledger()
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
    const credits = createCreditLedger({ path })
    await credits.close()
    const error = await credits.balance('alice').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(X402Error)
    expect((error as X402Error).code).toBe('store_unavailable')
    expect((error as X402Error).retryable).toBe(true)
  })

  it('stores only token hashes, and finds the account for the right token only', async () => {
    const credits = ledger()
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
    const db = openSqlite(path)
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
