import type { PaymentRecord } from '../ledger/types.js'
import type { PaymentLedger } from '../stores/types.js'

/** A settlement the dashboard lists, newest first. */
export type SettlementRow = {
  id: string
  state: string
  amount: bigint
  payer: string
  network: string
  resource: string
  transaction: string | undefined
  createdAt: number
}

/** The ledger's columns of a settlement, as both SQL stores read them. */
export type SettlementColumns = {
  id: string
  state: string
  amount: string
  payer: string
  network: string
  resource: string
  tx_hash: string | null
  created_at: number | bigint
}

/** A settlement row as the dashboard lists it. */
export function settlementRow(r: SettlementColumns): SettlementRow {
  return {
    id: r.id,
    state: r.state,
    amount: BigInt(r.amount),
    payer: r.payer,
    network: r.network,
    resource: r.resource,
    transaction: r.tx_hash ?? undefined,
    createdAt: Number(r.created_at),
  }
}

/**
 * What the ledger of record says about [from, to): the money received (payments settled,
 * pending or reconciled, as `payerStats` counts them), per payer and per slot of `stepMs`,
 * the settlements by state, and the latest ones.
 */
export type LedgerFigures = {
  revenue: bigint
  payments: number
  byPayer: Map<string, { count: number; amount: bigint }>
  /** Revenue per slot: index `floor((createdAt - from) / stepMs)`. */
  bySlot: Map<number, bigint>
  settlements: { settled: number; pending: number; failed: number }
  recent: SettlementRow[]
}

/** Reads the ledger's figures for a range. */
export type LedgerFiguresReader = {
  figures(from: number, to: number, stepMs: number): Promise<LedgerFigures>
  close(): Promise<void>
}

/** The states whose amount is money received (as the ledger's `payerStats`). */
export const earningStates = ['settled', 'pending', 'reconciled'] as const
/** The states a settlement is in, once tried. */
export const settlementStates = ['settled', 'reconciled', 'pending', 'settling', 'failed'] as const

/** The count of each state, as the dashboard groups them. */
export function settlementCounts(byState: Map<string, number>): LedgerFigures['settlements'] {
  const n = (state: string) => byState.get(state) ?? 0
  return { settled: n('settled') + n('reconciled'), pending: n('pending') + n('settling'), failed: n('failed') }
}

/** An empty set of figures, to add rows to. */
export function emptyFigures(): LedgerFigures {
  return {
    revenue: 0n,
    payments: 0,
    byPayer: new Map(),
    bySlot: new Map(),
    settlements: { settled: 0, pending: 0, failed: 0 },
    recent: [],
  }
}

/** Adds `count` payments of `payer` summing `amount` in `slot` to `figures`. */
export function addEarning(figures: LedgerFigures, slot: number, payer: string, count: number, amount: bigint): void {
  figures.revenue += amount
  figures.payments += count
  const known = figures.byPayer.get(payer)
  if (known) {
    known.count += count
    known.amount += amount
  } else figures.byPayer.set(payer, { count, amount })
  figures.bySlot.set(slot, (figures.bySlot.get(slot) ?? 0n) + amount)
}

/**
 * The figures from any ledger object (`ledger.list`): for a ledger given in code, whose
 * database the analytics cannot open. Reads at most the newest `limit` payments.
 *
 * @example
 * const reader = listLedgerFigures(ledger)
 * const { revenue } = await reader.figures(Date.now() - 3_600_000, Date.now(), 60_000)
 */
export function listLedgerFigures(ledger: PaymentLedger, limit = 100_000): LedgerFiguresReader {
  return {
    async figures(from, to, stepMs) {
      const rows = (await ledger.list({ limit })).filter((p) => p.createdAt >= from && p.createdAt < to)
      return figuresOfRecords(rows, from, stepMs)
    },
    async close() {},
  }
}

/** The figures of payment records already read (newest first). */
export function figuresOfRecords(rows: readonly PaymentRecord[], from: number, stepMs: number): LedgerFigures {
  const figures = emptyFigures()
  const byState = new Map<string, number>()
  for (const p of rows) {
    byState.set(p.state, (byState.get(p.state) ?? 0) + 1)
    if ((earningStates as readonly string[]).includes(p.state)) {
      addEarning(figures, Math.floor((p.createdAt - from) / stepMs), p.payer.toLowerCase(), 1, BigInt(p.amount))
    }
    if (figures.recent.length < 20 && (settlementStates as readonly string[]).includes(p.state)) {
      figures.recent.push({
        id: p.id,
        state: p.state,
        amount: BigInt(p.amount),
        payer: p.payer,
        network: p.network,
        resource: p.resource,
        transaction: p.transaction,
        createdAt: p.createdAt,
      })
    }
  }
  figures.settlements = settlementCounts(byState)
  return figures
}
