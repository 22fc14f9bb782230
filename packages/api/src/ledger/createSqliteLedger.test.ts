import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSqliteLedger } from './createSqliteLedger.js'
import { newPayment } from './newPayment.fixture.js'
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

const payment = newPayment

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

  it('when the file stays locked by another process, each write of the batch waits for it on its own, then fails with store_unavailable', async () => {
    const l = ledger()
    await l.insert(payment())
    const holder = openSqlite(path)
    open.push(holder)
    holder.exec('PRAGMA busy_timeout = 0')
    holder.exec('BEGIN IMMEDIATE')
    const batch = [payment(), payment()]
    // The ledger waits for its busy timeout (5 s) to begin the batch, then for each write.
    const results = await Promise.allSettled(batch.map((p) => l.insert(p)))
    holder.exec('ROLLBACK')
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason.code).toBe('store_unavailable')
    }
    expect(count(holder)).toBe(1)
  }, 40_000)

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

describe('createSqliteLedger: the replay guard', () => {
  it('holds an authorization while its payment is live, and frees it once the payment failed or was released', async () => {
    const l = ledger()
    const [settled, failed, released, pending] = [payment(), payment(), payment(), payment()]
    for (const p of [settled, failed, released, pending]) expect(await l.insert(p)).toBe(true)
    expect(await l.transition(settled.id, 'settled', { transaction: `0x${'cd'.repeat(32)}` })).toBe(true)
    expect(await l.transition(failed.id, 'failed', { reason: 'insufficient_funds' })).toBe(true)
    expect(await l.transition(released.id, 'released', { reason: 'handler_error' })).toBe(true)
    expect(await l.transition(pending.id, 'pending')).toBe(true)
    const again = (p: NewPayment) => payment({ payer: p.payer, nonce: p.nonce })
    expect(await l.insert(again(settled))).toBe(false)
    expect(await l.insert(again(pending))).toBe(false)
    expect(await l.insert(again(failed))).toBe(true)
    expect(await l.insert(again(released))).toBe(true)
    expect((await l.findByNonce(settled.network, settled.asset, settled.payer, settled.nonce))?.id).toBe(settled.id)
    expect(await l.findByNonce(failed.network, failed.asset, failed.payer, failed.nonce)).not.toMatchObject({
      id: failed.id,
    })
    // A pending payment that fails frees its authorization too.
    expect(await l.transition(pending.id, 'failed', { reason: 'reverted' })).toBe(true)
    expect(await l.insert(again(pending))).toBe(true)
  })

  it('migrates a ledger written by an earlier release: the guard keeps every live payment, and frees the dead ones', async () => {
    // The schema of earlier releases: no `undelivered`, no `live`, the guard indexed on `state`.
    const old = openSqlite(path)
    old.exec(`CREATE TABLE payments (
      id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      network TEXT NOT NULL, asset TEXT NOT NULL, pay_to TEXT NOT NULL, payer TEXT NOT NULL, nonce TEXT NOT NULL,
      amount TEXT NOT NULL, valid_before INTEGER NOT NULL, method TEXT NOT NULL, resource TEXT NOT NULL,
      tx_hash TEXT, reason TEXT, message TEXT, payload TEXT NOT NULL, requirements TEXT NOT NULL);
    CREATE UNIQUE INDEX payments_live_authorization ON payments (network, asset, payer, nonce)
      WHERE state IN ('verified', 'settling', 'settled', 'pending', 'reconciled');`)
    const rows = Object.fromEntries(
      ['verified', 'settling', 'settled', 'pending', 'reconciled', 'failed', 'released'].map((state) => [
        state,
        payment(),
      ]),
    )
    const add = old.prepare(`INSERT INTO payments (id, state, created_at, updated_at, network, asset, pay_to, payer,
      nonce, amount, valid_before, method, resource, payload, requirements) VALUES (?, ?, 1, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    for (const [state, p] of Object.entries(rows)) {
      add.run(
        p.id,
        state,
        p.network,
        p.asset,
        p.payTo,
        p.payer,
        p.nonce,
        p.amount,
        p.validBefore,
        p.method,
        p.resource,
        p.payload,
        p.requirements,
      )
    }
    old.close()

    const l = ledger()
    const names = (other().prepare('PRAGMA index_list(payments)').all() as { name: string }[]).map((i) => i.name)
    expect(names).toContain('payments_live')
    expect(names).not.toContain('payments_live_authorization')
    for (const [state, p] of Object.entries(rows)) {
      const live = !['failed', 'released'].includes(state)
      expect(await l.insert(payment({ payer: p.payer, nonce: p.nonce }))).toBe(!live)
      expect((await l.findByNonce(p.network, p.asset, p.payer, p.nonce))?.state).toBe(live ? state : 'verified')
    }
    // The recovery lease's columns were added: the old unfinished rows are claimed, once.
    const unfinished = ['verified', 'settling', 'pending'] as const
    const claimed = (await l.claimStale(unfinished, 2, 'reconciler', 60_000)).map((r) => r.id).sort()
    expect(claimed).toEqual(unfinished.map((state) => rows[state]?.id).sort())
    expect(await l.claimStale(unfinished, 2, 'another', 60_000)).toEqual([])
    expect((await l.get(rows.settled?.id as string))?.undelivered).toBeUndefined()
    expect(await l.setUndelivered(rows.settled?.id as string, true)).toBe(true)
    // Opened again, it is not migrated twice.
    await l.close()
    const reopened = ledger()
    expect((await reopened.get(rows.settled?.id as string))?.undelivered).toBe(true)
    expect(count(other())).toBe(9)
  })
})
