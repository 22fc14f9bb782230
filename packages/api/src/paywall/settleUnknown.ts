import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger, PaymentRecord } from '../ledger/types.js'

/** The ledger reason of a payment whose settlement the node was never known to have. */
export const unknownReason = 'settlement_unknown'

export type DrivenSettlement = { state: 'settled'; transaction: string } | { state: 'pending' | 'failed' }

/**
 * Drives the settlement of an unserved payment whose transaction the node was never known to
 * have (`settlement_unknown`): asks the facilitator to settle it again. A facilitator that
 * holds the signed transaction sends the same bytes (same hash, so at most one charge); one
 * that does not verifies and sends it (the authorization is single-use on chain). Settled:
 * the row is `reconciled` and flagged `undelivered` in the same write (nobody was served: the
 * payer's signed-in retry is, once). A settlement still unknown or unconfirmed leaves the row
 * as it is; a refusal is checked against the chain before the row is called failed.
 */
export async function settleUnknown(
  ledger: Ledger,
  facilitator: FacilitatorLike,
  row: PaymentRecord,
): Promise<DrivenSettlement> {
  const paymentPayload = JSON.parse(row.payload)
  const paymentRequirements = JSON.parse(row.requirements)
  let transaction: string | undefined
  try {
    const settle = await facilitator.settle(paymentPayload, paymentRequirements)
    if (settle.success) transaction = settle.transaction
    else if (
      settle.errorReason === 'settlement_unknown' ||
      settle.errorReason === 'settlement_pending' ||
      settle.errorReason === 'payment_in_flight'
    ) {
      return { state: 'pending' }
    }
  } catch {
    return { state: 'pending' }
  }
  if (transaction === undefined) {
    // Refused (say, already used, by this very transaction through another path): the chain says.
    const status = await facilitator
      .reconcile({ paymentPayload, paymentRequirements, ...(row.transaction ? { transaction: row.transaction } : {}) })
      .catch(() => undefined)
    if (!status || status.state === 'pending') return { state: 'pending' }
    if (status.state === 'failed') {
      await ledger.transition(row.id, 'failed', { reason: 'reconciled', message: status.reason })
      return { state: 'failed' }
    }
    transaction = status.transaction
  }
  await ledger.transition(row.id, 'reconciled', { transaction, undelivered: true })
  return { state: 'settled', transaction }
}
