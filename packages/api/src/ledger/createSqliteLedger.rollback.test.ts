import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { newPayment } from './newPayment.fixture.js'

// The one fault SQLite itself will not produce on demand: a ROLLBACK that fails and leaves
// its transaction open. The ledger's connection is the real one, with `exec('ROLLBACK')`
// made to throw (without rolling back) once `failRollback` is set.
const state = vi.hoisted(() => ({ failRollback: false }))
vi.mock('./openSqlite.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('./openSqlite.js')>()
  return {
    ...real,
    openSqlite: (path: string) => {
      const db = real.openSqlite(path)
      return {
        ...db,
        exec: (sql: string) => {
          if (state.failRollback && sql === 'ROLLBACK') throw new Error('disk I/O error')
          db.exec(sql)
        },
      }
    },
  }
})

const { createSqliteLedger } = await import('./createSqliteLedger.js')
const { openSqlite } = await import('./openSqlite.js')

let dir: string
let path: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), '402x-ledger-rollback-'))
  path = join(dir, 'ledger.db')
  state.failRollback = false
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const payment = newPayment

describe('createSqliteLedger: a batch that cannot be rolled back', () => {
  it('refuses every write of it and every later one, and acknowledges nothing it did not commit', async () => {
    const ledger = createSqliteLedger({ path })
    const first = payment()
    expect(await ledger.insert(first)).toBe(true)
    const other = openSqlite(path)
    try {
      const poisoned = payment()
      other.exec(
        `CREATE TRIGGER poison BEFORE INSERT ON payments WHEN NEW.id = '${poisoned.id}' BEGIN SELECT RAISE(FAIL, 'disk fault'); END`,
      )
      state.failRollback = true
      const batch = [payment(), poisoned, payment()]
      const results = await Promise.allSettled(batch.map((p) => ledger.insert(p)))
      for (const result of results) {
        expect(result.status).toBe('rejected')
        const error = (result as PromiseRejectedResult).reason
        expect(error.code).toBe('store_unavailable')
        expect(error.message).toMatch(/could not be rolled back: disk I\/O error/)
      }
      // Later writes, and moves of a payment already committed, are refused too: they would
      // land in the open transaction and never be committed.
      await expect(ledger.insert(payment())).rejects.toMatchObject({ code: 'store_unavailable' })
      await expect(ledger.transition(first.id, 'settled', { transaction: '0xab' })).rejects.toMatchObject({
        code: 'store_unavailable',
      })
      // What other processes see: only what was committed before the fault.
      const rows = other.prepare('SELECT id, state FROM payments').all() as { id: string; state: string }[]
      expect(rows).toEqual([{ id: first.id, state: 'verified' }])
    } finally {
      other.close()
      state.failRollback = false
      await ledger.close().catch(() => {})
    }
    // The open transaction died with the connection: the file holds the one committed row.
    const reopened = createSqliteLedger({ path })
    try {
      expect((await reopened.list()).map((r) => r.id)).toEqual([first.id])
    } finally {
      await reopened.close()
    }
  })
})
