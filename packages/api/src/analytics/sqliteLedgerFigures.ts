import { openSqlite } from '../ledger/openSqlite.js'
import {
  addEarning,
  earningStates,
  emptyFigures,
  type LedgerFiguresReader,
  type SettlementColumns,
  settlementCounts,
  settlementRow,
  settlementStates,
} from './ledgerFigures.js'

const quoted = (states: readonly string[]) => states.map((s) => `'${s}'`).join(', ')

/**
 * The SQLite ledger's figures, read over a connection of its own (WAL: reads never block
 * the ledger's writes). Sums are exact: the amount's text is added in two parts, as the
 * ledger's own `payerStats` does.
 *
 * @example
 * const reader = sqliteLedgerFigures('.402x/ledger.db')
 */
export function sqliteLedgerFigures(path: string): LedgerFiguresReader {
  let db: ReturnType<typeof openSqlite> | undefined
  const open = () => {
    if (!db) {
      db = openSqlite(path)
      db.exec('PRAGMA busy_timeout = 5000')
    }
    return db
  }
  return {
    async figures(from, to, stepMs) {
      const conn = open()
      const figures = emptyFigures()
      const states = conn
        .prepare('SELECT state, COUNT(*) AS n FROM payments WHERE created_at >= ? AND created_at < ? GROUP BY state')
        .all(from, to) as { state: string; n: number | bigint }[]
      figures.settlements = settlementCounts(new Map(states.map((s) => [s.state, Number(s.n)])))
      const earned = conn
        .prepare(
          `SELECT CAST((created_at - ?) / ? AS INTEGER) AS slot, lower(payer) AS payer, COUNT(*) AS n,
            CAST(SUM(CAST(substr(amount, 1, max(length(amount) - 12, 0)) AS INTEGER)) AS TEXT) AS high,
            CAST(SUM(CAST(substr(amount, -12) AS INTEGER)) AS TEXT) AS low
          FROM payments WHERE created_at >= ? AND created_at < ? AND state IN (${quoted(earningStates)})
          GROUP BY slot, lower(payer)`,
        )
        .all(from, stepMs, from, to) as {
        slot: number | bigint
        payer: string
        n: number | bigint
        high: string | null
        low: string | null
      }[]
      for (const row of earned) {
        const amount = BigInt(row.high ?? '0') * 10n ** 12n + BigInt(row.low ?? '0')
        addEarning(figures, Math.floor(Number(row.slot)), row.payer, Number(row.n), amount)
      }
      const recent = conn
        .prepare(
          `SELECT id, state, amount, payer, network, resource, tx_hash, created_at FROM payments
          WHERE created_at >= ? AND created_at < ? AND state IN (${quoted(settlementStates)})
          ORDER BY rowid DESC LIMIT 20`,
        )
        .all(from, to) as SettlementColumns[]
      figures.recent = recent.map(settlementRow)
      return figures
    },
    async close() {
      db?.close()
      db = undefined
    },
  }
}
