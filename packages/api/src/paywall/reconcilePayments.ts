import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger } from '../ledger/types.js'

/**
 * Moves unfinished payments to their final state from the chain: after a crash between
 * settle and record, or a settlement left pending. A payment whose authorization was used
 * on chain is settled (`reconciled`); one that expired unused is `failed`.
 */
export async function reconcilePayments(options: {
  ledger: Ledger
  facilitator: FacilitatorLike
  /** Leave payments touched more recently than this alone (they are in flight). */
  olderThanMs: number
  /** Payments this process is serving or settling right now, whatever their age: left alone. */
  inFlight?: (id: string) => boolean
}): Promise<number> {
  const { ledger, facilitator } = options
  const inFlight = options.inFlight ?? (() => false)
  const stale = await ledger.listByState(['verified', 'settling', 'pending'], Date.now() - options.olderThanMs)
  let moved = 0
  for (const payment of stale) {
    // Asked here, and again once the chain answers: the list is older than either.
    if (inFlight(payment.id)) continue
    let status: Awaited<ReturnType<FacilitatorLike['reconcile']>>
    try {
      status = await facilitator.reconcile({
        paymentPayload: JSON.parse(payment.payload),
        paymentRequirements: JSON.parse(payment.requirements),
        ...(payment.transaction ? { transaction: payment.transaction } : {}),
      })
    } catch {
      continue
    }
    if (status.state === 'pending' || inFlight(payment.id)) continue
    // Walk the state machine forward from wherever the crash left the row. A move that
    // does not take means someone else (the request that was serving it, another process)
    // moved the row since it was listed: it is theirs, and what this list says of it
    // (served or not) is stale, so it is left alone.
    if (payment.state === 'verified') {
      if (status.state === 'failed') {
        moved += Number(await ledger.transition(payment.id, 'failed', { reason: 'reconciled', message: status.reason }))
        continue
      }
      if (!(await ledger.transition(payment.id, 'settling'))) continue
    }
    if (payment.state !== 'pending' && !(await ledger.transition(payment.id, 'pending', { reason: 'reconciling' }))) {
      continue
    }
    // Paid on chain but never served (a crash before the answer, a settlement fault, or a
    // crash in an earlier reconciliation): the payer's retry with the same payment is
    // served, with no new charge. Flagged in the same write as the move, so that a serving
    // process still alive after all either moves the row first (this move then fails) or
    // finds the flag and clears it.
    const unserved =
      payment.state !== 'pending' || payment.reason === 'settle_error' || payment.reason === 'reconciling'
    const ok =
      status.state === 'settled'
        ? await ledger.transition(payment.id, 'reconciled', {
            ...(status.transaction ? { transaction: status.transaction } : {}),
            ...(unserved ? { undelivered: true as const } : {}),
          })
        : await ledger.transition(payment.id, 'failed', { reason: 'reconciled', message: status.reason })
    moved += Number(ok)
  }
  return moved
}
