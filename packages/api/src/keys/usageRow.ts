import type { UsageEvent } from './types.js'

/** A usage event's row as the SQL stores read it back (SQLite and PostgreSQL: the same columns). */
export type UsageRow = {
  request_id: string
  key_id: string
  route: string
  units: number | bigint
  amount: string
  asset: string
  status: number | bigint
  at: number | bigint
}

/**
 * The usage event of a row: numbers as numbers, the amount a bigint of atomic units.
 *
 * @example
 * rows.map(usageEventOf)
 */
export const usageEventOf = (r: UsageRow): UsageEvent => ({
  keyId: r.key_id,
  route: r.route,
  units: Number(r.units),
  amount: BigInt(r.amount),
  asset: r.asset,
  status: Number(r.status),
  at: Number(r.at),
  requestId: r.request_id,
})
