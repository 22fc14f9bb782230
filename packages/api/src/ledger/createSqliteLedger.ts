import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { X402Error } from '@402x/core'
import { abandonedJournals, openJournal, readJournal, removeJournal } from './journal.js'
import { openSqlite } from './openSqlite.js'
import type { Ledger, PaymentRecord, PaymentState } from './types.js'
import { liveStates, transitions } from './types.js'
import { createWriteBehind, type LedgerFile } from './writeBehind.js'

const schema = `
CREATE TABLE IF NOT EXISTS payments (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  network TEXT NOT NULL,
  asset TEXT NOT NULL,
  pay_to TEXT NOT NULL,
  payer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  amount TEXT NOT NULL,
  valid_before INTEGER NOT NULL,
  method TEXT NOT NULL,
  resource TEXT NOT NULL,
  tx_hash TEXT,
  reason TEXT,
  message TEXT,
  payload TEXT NOT NULL,
  requirements TEXT NOT NULL,
  undelivered INTEGER NOT NULL DEFAULT 0
);
-- The live payment of an authorization (findByNonce). Not UNIQUE: one live payment per
-- authorization is kept by each process before it acknowledges (see writeBehind.ts), and
-- the payments of two processes are written later; the chain settles an authorization once.
DROP INDEX IF EXISTS payments_live_authorization;
CREATE INDEX IF NOT EXISTS payments_authorization
  ON payments (network, asset, payer, nonce)
  WHERE state IN ('verified', 'settling', 'settled', 'pending', 'reconciled');
CREATE INDEX IF NOT EXISTS payments_payer ON payments (payer, created_at);
-- Only the payments still in flight, for the reconciler: a settled payment leaves it, so
-- the index stays a few pages that every write finds in cache.
CREATE INDEX IF NOT EXISTS payments_unfinished ON payments (state, updated_at)
  WHERE state IN ('verified', 'settling', 'pending');
-- Earlier releases indexed every row by state and by creation time: each write then
-- touched two more pages. The newest-first listing reads the rowid (the insertion order).
DROP INDEX IF EXISTS payments_state;
DROP INDEX IF EXISTS payments_created;
`

type Row = {
  id: string
  state: PaymentState
  created_at: number
  updated_at: number
  network: string
  asset: string
  pay_to: string
  payer: string
  nonce: string
  amount: string
  valid_before: number
  method: string
  resource: string
  tx_hash: string | null
  undelivered: number
  reason: string | null
  message: string | null
  payload: string
  requirements: string
}

const toRecord = (row: Row): PaymentRecord => ({
  id: row.id,
  state: row.state,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  network: row.network,
  asset: row.asset,
  payTo: row.pay_to,
  payer: row.payer,
  nonce: row.nonce,
  amount: row.amount,
  validBefore: row.valid_before,
  method: row.method,
  resource: row.resource,
  ...(row.tx_hash ? { transaction: row.tx_hash } : {}),
  ...(row.reason ? { reason: row.reason } : {}),
  ...(row.message ? { message: row.message } : {}),
  ...(row.undelivered ? { undelivered: true } : {}),
  payload: row.payload,
  requirements: row.requirements,
})

export type SqliteLedgerOptions = {
  /** File path, or `:memory:`. */
  path: string
  /**
   * `normal`: every payment reaches the journal file (or, once written, SQLite's WAL file)
   * before it is acknowledged, so it survives a crash of the process; an OS crash or power
   * loss may lose the last ones (the chain still holds the settlements, and reconciliation
   * finds them). `full`: each is also fsynced, surviving power loss, at about 0.5 ms of
   * blocking I/O per write.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full'
  /**
   * How long a payment may stay in this process's journal before it is written to the
   * SQLite file, in one transaction with the others. A new payment costs one append to the
   * journal instead of a SQLite commit, and one that ends within this time is written once,
   * in its last state. Other processes (the CLI, a second server on the same file) see a
   * payment once it is written; this process sees it at once. A journal left by a process
   * that stopped is written by the next one that opens the ledger.
   * @default 50
   */
  writeBehindMs?: number
}

/**
 * The embedded ledger: one SQLite file in WAL mode, and a journal beside it per process. A
 * payment is journaled before it is acknowledged.
 *
 * @example
 * const ledger = createSqliteLedger({ path: '.402x/ledger.db' })
 */
export function createSqliteLedger(options: SqliteLedgerOptions): Ledger {
  const memory = options.path === ':memory:'
  if (!memory) mkdirSync(dirname(options.path), { recursive: true })
  const full = options.synchronous === 'full'
  const file = openLedgerFile(options.path, full)
  if (!memory) {
    // Payments acknowledged by a process that stopped before it wrote them.
    for (const journal of abandonedJournals(options.path)) {
      file.upsert(readJournal(journal))
      removeJournal(journal)
    }
  }
  return createWriteBehind({
    file,
    ...(memory ? {} : { journal: openJournal(options.path, full) }),
    delayMs: options.writeBehindMs ?? 50,
  })
}

/** The SQLite file's side of the ledger: synchronous reads, conditional moves and batched writes. */
function openLedgerFile(path: string, full: boolean): LedgerFile {
  const db = openSqlite(path)
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${full ? 'FULL' : 'NORMAL'}`)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec(schema)
  // Ledgers written before `undelivered` existed get the column.
  const columns = (db.prepare('PRAGMA table_info(payments)').all() as { name: string }[]).map((c) => c.name)
  if (!columns.includes('undelivered'))
    db.exec('ALTER TABLE payments ADD COLUMN undelivered INTEGER NOT NULL DEFAULT 0')
  const states = Object.keys(transitions) as PaymentState[]
  const quoted = (list: readonly string[]) => list.map((s) => `'${s}'`).join(', ')
  // A row already written is only moved forward: a journal written again after a crash (or
  // by two processes) never takes a payment back.
  const forward = states
    .filter((from) => transitions[from].length > 0)
    .map((from) => `(payments.state = '${from}' AND excluded.state IN (${quoted(transitions[from])}))`)
    .join(' OR ')
  const upsert = db.prepare(`INSERT INTO payments
    (id, state, created_at, updated_at, network, asset, pay_to, payer, nonce, amount, valid_before, method, resource, tx_hash, reason, message, payload, requirements, undelivered)
    VALUES (@id, @state, @createdAt, @updatedAt, @network, @asset, @payTo, @payer, @nonce, @amount, @validBefore, @method, @resource, @transaction, @reason, @message, @payload, @requirements, @undelivered)
    ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
      tx_hash = COALESCE(excluded.tx_hash, tx_hash), reason = COALESCE(excluded.reason, reason),
      message = COALESCE(excluded.message, message), undelivered = excluded.undelivered
    WHERE ${forward}`)
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  const rollback = db.prepare('ROLLBACK')
  const byId = db.prepare('SELECT * FROM payments WHERE id = ?')
  const byNonce = db.prepare(`SELECT * FROM payments WHERE network = ? AND asset = ? AND payer = ? AND nonce = ?
    AND state IN (${quoted(liveStates)}) ORDER BY rowid DESC LIMIT 1`)
  // One statement per target state, moving a payment only from a state that may precede
  // it: no read first, so a move is one write transaction.
  const moves = new Map(
    states.map((to) => {
      const from = states.filter((f) => transitions[f].includes(to))
      const sql = from.length
        ? `UPDATE payments SET state = '${to}', updated_at = @now,
            tx_hash = COALESCE(@transaction, tx_hash), reason = COALESCE(@reason, reason), message = COALESCE(@message, message),
            undelivered = COALESCE(@undelivered, undelivered)
            WHERE id = @id AND state IN (${quoted(from)})`
        : undefined
      return [to, sql ? db.prepare(sql) : undefined] as const
    }),
  )
  // Per asset: assets of different decimals are scaled by the caller. TOTAL() is a float
  // sum, so that a large 18-decimal sum cannot overflow (the figures feed volume tiers).
  const stats = db.prepare(`SELECT asset, COUNT(*) AS count, TOTAL(CAST(amount AS REAL)) AS amount
    FROM payments WHERE payer = ? AND created_at >= ? AND state IN ('settled', 'pending', 'reconciled')
    GROUP BY asset`)
  const setUndelivered = db.prepare(
    'UPDATE payments SET undelivered = @to, updated_at = @now WHERE id = @id AND undelivered = @from',
  )
  const one = (row: unknown) => (row ? toRecord(row as Row) : undefined)

  return {
    upsert: (payments) => {
      begin.run()
      try {
        for (const p of payments) {
          upsert.run({
            ...p,
            transaction: p.transaction ?? null,
            reason: p.reason ?? null,
            message: p.message ?? null,
            undelivered: p.undelivered ? 1 : 0,
          })
        }
        commit.run()
      } catch (error) {
        rollback.run()
        throw error
      }
    },
    transition: (id, to, changes = {}) => {
      const move = moves.get(to)
      if (!move) return false
      const result = move.run({
        id,
        now: Date.now(),
        transaction: changes.transaction ?? null,
        reason: changes.reason ?? null,
        message: changes.message ?? null,
        undelivered: changes.undelivered ? 1 : null,
      })
      return Number(result.changes) === 1
    },
    get: (id) => one(byId.get(id)),
    findByNonce: (network, asset, payer, nonce) =>
      one(byNonce.get(network, asset.toLowerCase(), payer.toLowerCase(), nonce.toLowerCase())),
    listByState: (states, olderThan = Number.MAX_SAFE_INTEGER) => {
      // The states are written into the SQL (they are checked against the closed list):
      // SQLite uses the partial index of unfinished payments only for literal states.
      for (const state of states) {
        if (!Object.hasOwn(transitions, state))
          throw new X402Error('invalid_request', { message: `no payment state "${state}"` })
      }
      return (
        db
          .prepare(`SELECT * FROM payments WHERE state IN (${quoted(states)}) AND updated_at < ? ORDER BY created_at`)
          .all(olderThan) as Row[]
      ).map(toRecord)
    },
    setUndelivered: (id, undelivered) => {
      const [to, from] = undelivered ? [1, 0] : [0, 1]
      return Number(setUndelivered.run({ to, from, id, now: Date.now() }).changes) === 1
    },
    payerStats: (payer, since) =>
      (stats.all(payer.toLowerCase(), since) as { asset: string; count: number | bigint; amount: number }[]).map(
        (row) => ({ asset: row.asset, count: Number(row.count), amount: Number(row.amount) }),
      ),
    list: ({ limit = 100 } = {}) =>
      (db.prepare('SELECT * FROM payments ORDER BY rowid DESC LIMIT ?').all(limit) as Row[]).map(toRecord),
    close: () => db.close(),
  }
}
