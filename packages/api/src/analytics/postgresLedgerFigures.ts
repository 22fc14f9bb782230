import { ledgerSchema } from '../ledger/postgresLedgerSchema.js'
import { openPostgresStore } from '../stores/openPostgresStore.js'
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

/**
 * The PostgreSQL ledger's figures (`x402_payments`), summed exactly as `numeric`.
 *
 * @example
 * const reader = postgresLedgerFigures(process.env.X402_DATABASE_URL!)
 */
export function postgresLedgerFigures(url: string): LedgerFiguresReader {
  const { sql, run, close } = openPostgresStore({ url }, 'ledger', ledgerSchema)
  return {
    figures: (from, to, stepMs) =>
      run(async () => {
        const figures = emptyFigures()
        const states = await sql<{ state: string; n: number }[]>`
          select state, count(*)::int as n from x402_payments
          where created_at >= ${from} and created_at < ${to} group by state`
        figures.settlements = settlementCounts(new Map(states.map((s) => [s.state, s.n])))
        const earned = await sql<{ slot: number; payer: string; n: number; amount: string }[]>`
          select ((created_at - ${from}) / ${stepMs})::int as slot, payer, count(*)::int as n, sum(amount)::text as amount
          from x402_payments
          where created_at >= ${from} and created_at < ${to} and state in ${sql(earningStates)}
          group by 1, 2`
        for (const row of earned) addEarning(figures, row.slot, row.payer, row.n, BigInt(row.amount))
        const recent = await sql<
          SettlementColumns[]
        >`select id, state, amount::text as amount, payer, network, resource, tx_hash, created_at from x402_payments
          where created_at >= ${from} and created_at < ${to} and state in ${sql(settlementStates)}
          order by seq desc limit 20`
        figures.recent = recent.map(settlementRow)
        return figures
      }),
    close,
  }
}
