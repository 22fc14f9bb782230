import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger } from '../ledger/types.js'
import { settleUnknown, unknownReason } from './settleUnknown.js'

export type Resumed = { state: 'settled'; transaction: string } | { state: 'retry' | 'pending' | 'failed' }

/**
 * Where an unserved payment whose settlement faulted stands now, from the chain: `settled`
 * (serve it, no second charge), `retry` (never used and still valid: settle it again),
 * `pending` (sent, unconfirmed) or `failed` (expired unused, or voided by the payer). A
 * settlement the node was never known to have is settled again (`settleUnknown`).
 */
export async function resumeUnserved(ledger: Ledger, facilitator: FacilitatorLike, id: string): Promise<Resumed> {
  const row = await ledger.get(id)
  if (!row) return { state: 'failed' }
  // Signed and maybe sent, never known to the node: this retry drives its settlement.
  if (row.state === 'pending' && row.reason === unknownReason) return settleUnknown(ledger, facilitator, row)
  const status = await facilitator.reconcile({
    paymentPayload: JSON.parse(row.payload),
    paymentRequirements: JSON.parse(row.requirements),
    ...(row.transaction ? { transaction: row.transaction } : {}),
  })
  if (status.state === 'settled') {
    await ledger.transition(id, 'reconciled', status.transaction ? { transaction: status.transaction } : {})
    return { state: 'settled', transaction: status.transaction }
  }
  if (status.state === 'failed') {
    await ledger.transition(id, 'failed', { reason: 'reconciled', message: status.reason })
    return { state: 'failed' }
  }
  if (status.transaction || row.transaction) return { state: 'pending' }
  // Unused on chain and still valid: this attempt is closed, and the retry settles anew.
  await ledger.transition(id, 'failed', { reason: 'retried', message: 'settlement faulted; the payer retried' })
  return { state: 'retry' }
}
