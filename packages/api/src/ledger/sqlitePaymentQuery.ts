import type { SqliteDb } from './openSqlite.js'
import { checkQuery, type PaymentPage, type PaymentQuery, pageOf } from './paymentQuery.js'
import type { PaymentRecord } from './types.js'

/**
 * `PaymentLedger.query` on the SQLite ledger: keyset pages on the rowid (the insertion
 * order), so that a page starts after a fixed row whatever was recorded since. `toRecord`
 * maps a row of `payments` (read with its rowid as `seq`).
 */
export function sqlitePaymentQuery<Row extends { seq: number | bigint }>(
  db: SqliteDb,
  toRecord: (row: Row) => PaymentRecord,
): (query: PaymentQuery) => PaymentPage {
  return (query) => {
    const q = checkQuery(query)
    const where: string[] = []
    const params: (string | number | bigint)[] = []
    if (q.after !== undefined) {
      where.push(q.newest ? 'rowid < ?' : 'rowid > ?')
      params.push(q.after)
    }
    if (q.payer !== undefined) {
      where.push('payer = ?')
      params.push(q.payer)
    }
    // The states are checked against the closed list: written as literals.
    if (q.states) where.push(`state IN (${q.states.map((s) => `'${s}'`).join(', ')})`)
    if (query.resource !== undefined) {
      // instr, not LIKE: case-sensitive, and no wildcard in the seller's text.
      where.push('instr(resource, ?) > 0')
      params.push(query.resource)
    }
    if (query.from !== undefined) {
      where.push('created_at >= ?')
      params.push(query.from)
    }
    if (query.to !== undefined) {
      where.push('created_at < ?')
      params.push(query.to)
    }
    const sql = `SELECT rowid AS seq, * FROM payments ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY rowid ${q.newest ? 'DESC' : 'ASC'} LIMIT ?`
    const rows = db.prepare(sql).all(...params, q.limit + 1) as Row[]
    return pageOf(rows, q.limit, q.newest, (row) => BigInt(row.seq), toRecord)
  }
}
