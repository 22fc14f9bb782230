import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSqliteLedger } from './createSqliteLedger.js'
import { openSqlite, type SqliteDb } from './openSqlite.js'
import type { Ledger, NewPayment } from './types.js'

let dir: string
let path: string
const open: { close(): unknown }[] = []

const ledger = (): Ledger => {
  const created = createSqliteLedger({ path })
  open.push(created)
  return created
}

/** A second connection to the same file, as another process would have. */
const other = (): SqliteDb => {
  const db = openSqlite(path)
  db.exec('PRAGMA busy_timeout = 5000')
  open.push(db)
  return db
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), '402x-ledger-'))
  path = join(dir, 'ledger.db')
})

afterEach(async () => {
  for (const item of open.splice(0).reverse()) await Promise.resolve(item.close()).catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const payment = (overrides: Partial<NewPayment> = {}): NewPayment => ({
  id: randomUUID(),
  state: 'verified',
  network: 'eip155:31337',
  asset: `0x${'11'.repeat(20)}`,
  payTo: `0x${'22'.repeat(20)}`,
  payer: `0x${randomBytes(20).toString('hex')}`,
  nonce: `0x${randomBytes(32).toString('hex')}`,
  amount: '10000',
  validBefore: 2_000_000_000,
  method: 'GET',
  resource: 'http://127.0.0.1/paid',
  payload: JSON.stringify({ signature: randomBytes(65).toString('hex') }),
  requirements: JSON.stringify({ scheme: 'exact' }),
  ...overrides,
})

/** The frames in the ledger's WAL file (each is one page written by a commit). */
const walFrames = (db: SqliteDb) => Number((db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number }).log)

const count = (db: SqliteDb) => Number((db.prepare('SELECT COUNT(*) AS n FROM payments').get() as { n: number }).n)

describe('createSqliteLedger: the group commit', () => {
  it('commits the writes of one turn together, each page once, and each is on disk when its promise settles', async () => {
    const l = ledger()
    const reader = other()
    // Warm up: the tables' first pages exist.
    await l.insert(payment())
    const one = async (batch: NewPayment[]) => {
      reader.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      for (const p of batch) expect(await l.insert(p)).toBe(true)
      return walFrames(reader)
    }
    const together = async (batch: NewPayment[]) => {
      reader.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      expect(await Promise.all(batch.map((p) => l.insert(p)))).toEqual(batch.map(() => true))
      return walFrames(reader)
    }
    const sequential = await one(Array.from({ length: 20 }, () => payment()))
    const grouped = await together(Array.from({ length: 20 }, () => payment()))
    // Twenty commits write each touched page twenty times; one commit writes it once.
    expect(sequential).toBeGreaterThanOrEqual(20 * 3)
    expect(grouped).toBeLessThan(sequential / 2)
    // Another connection (another process) sees every acknowledged write.
    expect(count(reader)).toBe(41)
  })

  it('keeps its replay guard inside a batch: a duplicate authorization is refused, the others are kept', async () => {
    const l = ledger()
    const first = payment()
    const twin = payment({ payer: first.payer, nonce: first.nonce })
    const others = Array.from({ length: 5 }, () => payment())
    const results = await Promise.all([
      l.insert(first),
      l.insert(others[0] as NewPayment),
      l.insert(twin),
      ...others.slice(1).map((p) => l.insert(p)),
    ])
    expect(results).toEqual([true, true, false, true, true, true, true])
    expect(await l.get(twin.id)).toBeUndefined()
    for (const p of [first, ...others]) expect((await l.get(p.id))?.state).toBe('verified')
    // Case does not matter to the guard, in a batch or not.
    expect(await l.insert(payment({ payer: first.payer.toUpperCase(), nonce: first.nonce }))).toBe(false)
  })

  it('runs moves in the order they were asked, in one batch', async () => {
    const l = ledger()
    const p = payment()
    await l.insert(p)
    // settling then settled, asked in the same turn: both apply, in order; a move that may
    // not follow (settled → verified) is refused.
    const moves = await Promise.all([
      l.transition(p.id, 'settling'),
      l.transition(p.id, 'settled', { transaction: `0x${'cd'.repeat(32)}` }),
      l.transition(p.id, 'failed', { reason: 'x' }),
    ])
    expect(moves).toEqual([true, true, false])
    const row = await l.get(p.id)
    expect(row?.state).toBe('settled')
    expect(row?.transaction).toBe(`0x${'cd'.repeat(32)}`)
  })

  it('when one write of a batch fails, the batch is undone and each write goes again alone, with its own answer', async () => {
    const l = ledger()
    await l.insert(payment())
    const poisoned = payment()
    // A fault that undoes the whole transaction it happens in (as a full disk would).
    other().exec(
      `CREATE TRIGGER poison BEFORE INSERT ON payments WHEN NEW.id = '${poisoned.id}' BEGIN SELECT RAISE(ROLLBACK, 'disk fault'); END`,
    )
    const good = [payment(), payment()]
    const results = await Promise.allSettled([
      l.insert(good[0] as NewPayment),
      l.insert(poisoned),
      l.insert(good[1] as NewPayment),
    ])
    expect(results[0]).toEqual({ status: 'fulfilled', value: true })
    expect(results[2]).toEqual({ status: 'fulfilled', value: true })
    expect(results[1].status).toBe('rejected')
    const error = (results[1] as PromiseRejectedResult).reason
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toMatch(/disk fault/)
    for (const p of good) expect((await l.get(p.id))?.state).toBe('verified')
    expect(await l.get(poisoned.id)).toBeUndefined()
    expect(count(other())).toBe(3)
  })

  it('when the file stays locked by another process, the batch fails with store_unavailable and nothing is written', async () => {
    const l = ledger()
    await l.insert(payment())
    const holder = openSqlite(path)
    open.push(holder)
    holder.exec('PRAGMA busy_timeout = 0')
    holder.exec('BEGIN IMMEDIATE')
    const batch = [payment(), payment()]
    // The ledger waits for its busy timeout (5 s) before it gives up.
    const results = await Promise.allSettled(batch.map((p) => l.insert(p)))
    holder.exec('ROLLBACK')
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason.code).toBe('store_unavailable')
    }
    expect(count(holder)).toBe(1)
  }, 20_000)

  it('close writes what is waiting first', async () => {
    const l = createSqliteLedger({ path })
    const p = payment()
    const inserted = l.insert(p)
    await l.close()
    expect(await inserted).toBe(true)
    const again = ledger()
    expect((await again.get(p.id))?.state).toBe('verified')
  })
})
