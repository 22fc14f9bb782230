import type { EventEmitter } from 'node:events'
import type { PaymentPayload, PaymentRequirements, SettleResponse } from '@402x/core'
import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger } from '../ledger/types.js'
import { errorResponse } from './responses.js'
import { unknownReason } from './settleUnknown.js'
import type { PaymentEvent, PaywallEvents } from './types.js'

export type SettleAndServeInput = {
  ledger: Ledger
  facilitator: FacilitatorLike
  events: EventEmitter<PaywallEvents>
  /** The ledger row of this payment, in state `verified`. */
  id: string
  payer: string
  payload: PaymentPayload
  requirements: PaymentRequirements
  /** The status the handler answered with. */
  status: number
  /** When the row was written (`verified`), ms epoch. */
  verifiedAt: number
  /** A 402 for this route, with a refusal reason and the failed settlement. */
  paymentRequired(error: { reason: string; message: string }, settle?: SettleResponse): Response
}

/** How old a `verified` row must be for a `settling` write before its settlement. */
export const settlingWriteAfterMs = 1_000

/** A payment settled (or sent and pending): serve the handler's answer with its receipt. */
export type Paid = { state: PaymentEvent['state']; settle: SettleResponse }

/**
 * After the handler: charge nothing for a status ≥ 400 (`'released'`: send the handler's
 * answer as it is); otherwise settle and record it (`Paid`: serve with the receipt). A
 * settlement that faults keeps the payment `pending` (it may have reached the chain) and
 * is never served; one that fails is a 402 with the reason (a `Response` to send instead).
 */
export async function settleAndServe(input: SettleAndServeInput): Promise<'released' | Paid | Response> {
  const { ledger, events, id, payer, status } = input
  if (status >= 400) {
    await ledger.transition(id, 'released', {
      reason: 'handler_error',
      message: `the handler answered ${status}; nothing was charged`,
    })
    events.emit('released', { id, payer, reason: `handler answered ${status}` })
    return 'released'
  }
  // The `settling` write claims the row against the reconciler, which looks only at rows
  // untouched for 5 s, and refreshes that time before a settlement that may itself take
  // seconds. A row written less than `settlingWriteAfterMs` ago needs no refresh: the
  // write (about a third of the ledger's cost per payment) is skipped, and the reconciler
  // treats a `verified` row exactly as a `settling` one (it asks the chain). The payments in
  // flight in this process are also skipped by its own reconciler, whatever their age.
  const claim = Date.now() - input.verifiedAt >= settlingWriteAfterMs
  if (claim && !(await ledger.transition(id, 'settling'))) {
    // The reconciler already closed this payment (it expired while the handler ran).
    return input.paymentRequired({
      reason: 'invalid_exact_evm_payload_authorization_valid_before',
      message: 'the payment expired before the handler finished; nothing was charged, pay again',
    })
  }
  let settle: SettleResponse
  try {
    settle = await input.facilitator.settle(input.payload, input.requirements)
  } catch (error) {
    // The settlement may or may not have reached the chain: keep it pending, and let the
    // reconciler decide from the chain. Never serve it.
    await ledger.transition(id, 'pending', { reason: 'settle_error', message: (error as Error).message })
    return errorResponse(
      503,
      'settlement_unknown',
      `the settlement's outcome is not known yet (${(error as Error).message}): retry with the same PAYMENT-SIGNATURE, do not sign a new payment; it is served once and charged at most once`,
      2,
    )
  }
  // Paid (or sent): serve it even if the ledger write fails; the row stays `verified` or
  // `settling` and the reconciler moves it forward from the chain.
  const record = async (state: 'settled' | 'pending', update: Parameters<Ledger['transition']>[2]) => {
    try {
      if (await ledger.transition(id, state, update)) return
      // Another process's reconciler moved the row first (a settlement slower than its 5 s).
      // Settled: finish its walk (`pending → reconciled`) without the undelivered flag it
      // would set; if it already finished, it flagged the payment (not knowing it was being
      // served): it is being delivered now, so unflag it, or a retry would be served free.
      if (state === 'settled' && (await ledger.transition(id, 'reconciled', update))) return
      const row = await ledger.get(id)
      if (row?.undelivered) await ledger.setUndelivered(id, false)
    } catch (error) {
      events.emit('error', error)
    }
  }
  if (settle.success) {
    await record('settled', { transaction: settle.transaction })
    return { state: 'settled', settle }
  }
  if (settle.errorReason === unknownReason) {
    // Signed, maybe sent, but the node is not known to have it: it cannot be counted on to
    // land, so nothing is served. The payment stays retryable: the payer's retry (or the
    // reconciler) drives its settlement, and the payer is served once it is known.
    await ledger.transition(id, 'pending', {
      ...(settle.transaction ? { transaction: settle.transaction } : {}),
      reason: unknownReason,
      message: settle.errorMessage ?? 'the settlement was sent with no answer from the node',
    })
    return errorResponse(
      503,
      'settlement_unknown',
      `the settlement was sent but the chain's node does not know it yet (${settle.errorMessage ?? 'no answer'}): retry with the same PAYMENT-SIGNATURE, do not sign a new payment; it is served once and charged at most once`,
      2,
    )
  }
  if (settle.errorReason === 'settlement_pending') {
    // Sent, not yet confirmed: it may still land, so the payer is never asked again.
    await record('pending', { transaction: settle.transaction, reason: 'settlement_pending' })
    return { state: 'pending', settle }
  }
  const reason = settle.errorReason ?? 'settlement_failed'
  await ledger.transition(id, 'failed', {
    ...(settle.transaction ? { transaction: settle.transaction } : {}),
    reason,
    message: settle.errorMessage ?? 'settlement failed',
  })
  events.emit('failed', { id, payer, reason, settle })
  return input.paymentRequired(
    { reason, message: settle.errorMessage ?? 'the payment could not be settled; nothing was charged' },
    settle,
  )
}
