import { formatMoney } from '@402x/core'
import type { PaymentRecord } from '../ledger/types.js'
import type { PaywallRuntime } from '../pipeline/runtime.js'

/** A payment as the admin API, the export and `402x payments` show it. */
export type PaymentView = {
  id: string
  payer: string
  /** Dollars (the asset's decimals), e.g. `"0.010000"`. */
  amount: string
  /** Atomic units, as a decimal string: what the ledger holds. */
  amountAtomic: string
  asset: string
  network: string
  resource: string
  method: string
  state: PaymentRecord['state']
  transaction: string | null
  /** ISO time the payment was recorded. */
  createdAt: string
  /** ISO time it settled (its last update, for a settled or reconciled payment). */
  settledAt?: string
  reason?: string
}

/** The decimals of `asset` on `network` among the paywall's accepted options (else the main asset's). */
export function decimalsOf(rt: PaywallRuntime, network: string, asset: string): number {
  const found = rt.config.accepts.find(
    (option) => option.network === network && option.asset.address.toLowerCase() === asset.toLowerCase(),
  )
  return found?.asset.decimals ?? rt.decimals
}

/**
 * A ledger row as the admin API shows it: amounts in dollars and atomic units, times in ISO;
 * never the signed payload.
 *
 * @example
 * const view = paymentView(rt, await rt.ledger.get(id))
 */
export function paymentView(rt: PaywallRuntime, record: PaymentRecord): PaymentView {
  const settled = record.state === 'settled' || record.state === 'reconciled'
  return {
    id: record.id,
    payer: record.payer,
    amount: formatMoney(BigInt(record.amount), decimalsOf(rt, record.network, record.asset)),
    amountAtomic: record.amount,
    asset: record.asset,
    network: record.network,
    resource: record.resource,
    method: record.method,
    state: record.state,
    transaction: record.transaction ?? null,
    createdAt: new Date(record.createdAt).toISOString(),
    ...(settled ? { settledAt: new Date(record.updatedAt).toISOString() } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
  }
}
