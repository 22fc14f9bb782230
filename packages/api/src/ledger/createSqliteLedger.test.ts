import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteLedger } from './createSqliteLedger.js'
import { openSqlite } from './openSqlite.js'
import type { Ledger, NewPayment } from './types.js'

const dirs: string[] = []
const ledgers: Ledger[] = []
afterEach(async () => {
  for (const ledger of ledgers.splice(0)) await ledger.close().catch(() => {})
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const freshPath = () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-ledger-'))
  dirs.push(dir)
  return join(dir, 'ledger.db')
}
const open = (path: string, writeBehindMs = 60_000) => {
  const ledger = createSqliteLedger({ path, writeBehindMs })
  ledgers.push(ledger)
  return ledger
}
const payment = (overrides: Partial<NewPayment> = {}): NewPayment => ({
  id: randomUUID(),
  state: 'verified',
  network: 'eip155:31337',
  asset: `0x${'Aa'.repeat(20)}`,
  payTo: `0x${'bb'.repeat(20)}`,
  payer: `0x${'Cc'.repeat(20)}`,
  nonce: `0x${randomUUID().replaceAll('-', '').repeat(2)}`,
  amount: '10000',
  validBefore: 2_000_000_000,
  method: 'GET',
  resource: 'http://127.0.0.1/paid',
  payload: '{"x402Version":2}',
  requirements: '{"scheme":"exact"}',
  ...overrides,
})
/** The rows as the SQLite file holds them, read by a connection of its own. */
const rowsOf = (path: string) => {
  const db = openSqlite(path)
  try {
    return db.prepare('SELECT id, state, tx_hash, undelivered FROM payments ORDER BY rowid').all() as {
      id: string
      state: string
      tx_hash: string | null
      undelivered: number
    }[]
  } finally {
    db.close()
  }
}
const journalsOf = (path: string) => readdirSync(join(path, '..')).filter((name) => name.includes('-journal-'))
const tx = `0x${'ef'.repeat(32)}`

describe('createSqliteLedger: journal first, SQLite file in batches', () => {
  it('shows a payment to its own process at once and to the file once written, in its last state alone', async () => {
    const path = freshPath()
    const ledger = open(path)
    const p = payment()
    expect(await ledger.insert(p)).toBe(true)
    expect(await ledger.transition(p.id, 'settled', { transaction: tx })).toBe(true)
    expect(await ledger.get(p.id)).toMatchObject({ state: 'settled', transaction: tx, payer: p.payer.toLowerCase() })
    expect(await ledger.findByNonce(p.network, p.asset, p.payer, p.nonce)).toMatchObject({ id: p.id })
    // The journal holds it meanwhile.
    const [journal] = journalsOf(path).map((name) => join(path, '..', name))
    expect(
      readFileSync(journal as string, 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2)
    // Not yet in the file: another process (here a second instance) does not see it.
    expect(rowsOf(path)).toEqual([])
    const other = open(path)
    expect(await other.get(p.id)).toBeUndefined()

    await ledger.flush()
    expect(rowsOf(path)).toEqual([{ id: p.id, state: 'settled', tx_hash: tx, undelivered: 0 }])
    expect(statSync(journal as string).size).toBe(0)
    expect(await other.get(p.id)).toMatchObject({ state: 'settled', transaction: tx })
  })

  it('writes by itself within writeBehindMs, and on close', async () => {
    const path = freshPath()
    const quick = open(path, 20)
    const p = payment()
    await quick.insert(p)
    for (let i = 0; i < 100 && rowsOf(path).length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(rowsOf(path)).toMatchObject([{ id: p.id, state: 'verified' }])

    const slow = createSqliteLedger({ path, writeBehindMs: 60_000 })
    const q = payment()
    await slow.insert(q)
    await slow.close()
    expect(rowsOf(path).map((r) => r.id)).toEqual([p.id, q.id])
    // Its journal is gone with it; the other's stays while it is open.
    expect(journalsOf(path)).toHaveLength(1)
  })

  it('keeps one live payment per authorization, before and after it is written', async () => {
    const path = freshPath()
    const ledger = open(path)
    const p = payment()
    expect(await ledger.insert(p)).toBe(true)
    expect(await ledger.insert({ ...p, id: randomUUID(), payer: p.payer.toUpperCase() })).toBe(false)
    await ledger.flush()
    expect(await ledger.insert({ ...p, id: randomUUID() })).toBe(false)
    // Released, the authorization may be presented again.
    expect(await ledger.transition(p.id, 'released')).toBe(true)
    const again = { ...p, id: randomUUID() }
    expect(await ledger.insert(again)).toBe(true)
    expect(await ledger.insert({ ...p, id: randomUUID() })).toBe(false)
    expect(await ledger.transition(again.id, 'failed')).toBe(true)
    expect(await ledger.insert({ ...p, id: randomUUID() })).toBe(true)
  })

  it('moves a payment only forward, in memory as in the file', async () => {
    const path = freshPath()
    const ledger = open(path)
    for (const written of [false, true]) {
      const p = payment()
      await ledger.insert(p)
      if (written) await ledger.flush()
      expect(await ledger.transition(p.id, 'reconciled')).toBe(false)
      expect(await ledger.transition(p.id, 'settling')).toBe(true)
      expect(await ledger.transition(p.id, 'pending', { transaction: tx, reason: 'settle_error' })).toBe(true)
      expect(await ledger.transition(p.id, 'settled')).toBe(false)
      expect(await ledger.setUndelivered(p.id, true)).toBe(true)
      expect(await ledger.setUndelivered(p.id, true)).toBe(false)
      expect(await ledger.transition(p.id, 'reconciled', { message: 'on chain' })).toBe(true)
      expect(await ledger.transition(p.id, 'failed')).toBe(false)
      expect(await ledger.get(p.id)).toMatchObject({
        state: 'reconciled',
        transaction: tx,
        reason: 'settle_error',
        message: 'on chain',
        undelivered: true,
      })
      expect(await ledger.transition(randomUUID(), 'settled')).toBe(false)
    }
    // The listings write what is pending first.
    const rows = await ledger.listByState(['reconciled'])
    expect(rows).toHaveLength(2)
    expect(rowsOf(path).every((r) => r.state === 'reconciled' && r.undelivered === 1)).toBe(true)
  })

  it("counts a payer's payments not yet written in its history", async () => {
    const path = freshPath()
    const ledger = open(path)
    const payer = `0x${'de'.repeat(20)}`
    const written = payment({ payer })
    await ledger.insert(written)
    await ledger.transition(written.id, 'settled')
    await ledger.flush()
    const fresh = payment({ payer: payer.toUpperCase() })
    await ledger.insert(fresh)
    expect(await ledger.payerStats(payer, 0)).toEqual([{ asset: written.asset.toLowerCase(), count: 1, amount: 10000 }])
    await ledger.transition(fresh.id, 'settled')
    expect(await ledger.payerStats(payer, 0)).toEqual([{ asset: written.asset.toLowerCase(), count: 2, amount: 20000 }])
  })

  it('writes the payments of a process killed before it wrote them, once, when the ledger is next opened', async () => {
    const path = freshPath()
    const ids = [randomUUID(), randomUUID(), randomUUID()]
    // A process that acknowledges three payments, then is killed before its first write.
    const script = `
      import { createSqliteLedger } from ${JSON.stringify(new URL('../../dist/ledger/createSqliteLedger.js', import.meta.url).href)}
      const ledger = createSqliteLedger({ path: ${JSON.stringify(path)}, writeBehindMs: 60000 })
      const base = ${JSON.stringify(payment())}
      const ids = ${JSON.stringify(ids)}
      for (const [i, id] of ids.entries()) await ledger.insert({ ...base, id, nonce: base.nonce.slice(0, -1) + i })
      await ledger.transition(ids[0], 'settled', { transaction: ${JSON.stringify(tx)} })
      await ledger.transition(ids[1], 'settling')
      await ledger.setUndelivered(ids[0], true)
      await ledger.transition(ids[2], 'released', { reason: 'handler_error' })
      process.kill(process.pid, 'SIGKILL')
    `
    expect(() => execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' })).toThrow()
    expect(rowsOf(path)).toEqual([])
    const [left] = journalsOf(path)
    expect(left).toBeDefined()
    // A crash in the middle of a write leaves a line cut short: it was never acknowledged.
    appendFileSync(join(path, '..', left as string), '{"c":{"id":"')

    const ledger = open(path)
    expect(rowsOf(path)).toEqual([
      { id: ids[0], state: 'settled', tx_hash: tx, undelivered: 1 },
      { id: ids[1], state: 'settling', tx_hash: null, undelivered: 0 },
      { id: ids[2], state: 'released', tx_hash: null, undelivered: 0 },
    ])
    expect(await ledger.get(ids[2] as string)).toMatchObject({ reason: 'handler_error' })
    expect(journalsOf(path)).toHaveLength(1) // this ledger's own; the dead one is gone
  })

  it('never takes a written payment back when an old journal is written again', async () => {
    const path = freshPath()
    const ledger = open(path)
    const p = payment()
    await ledger.insert(p)
    await ledger.flush()
    const [row] = await ledger.list()
    await ledger.transition(p.id, 'settled', { transaction: tx })
    // A journal that still holds the payment as verified (a crash after the write, before
    // the journal was emptied), left by a process that has ended.
    const dead = Number(execFileSync(process.execPath, ['-p', 'process.pid']).toString())
    writeFileSync(join(path, '..', `ledger.db-journal-${dead}-0000`), `${JSON.stringify({ p: row })}\n`)
    open(path)
    expect(rowsOf(path)).toEqual([{ id: p.id, state: 'settled', tx_hash: tx, undelivered: 0 }])
  })
})
