import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger } from '../ledger/types.js'
import { settleUnknown, unknownReason } from './settleUnknown.js'

/**
 * This process's name on the ledger's recovery leases: one per process, so that its next run
 * takes back what its last left unfinished, and a restarted process (a new name) waits for
 * the leases of the one that died to run out.
 */
const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`

/**
 * How long a claimed payment stays this process's: longer than a run takes. Once it has run
 * out (the process died), another instance reconciles the payment.
 */
const leaseMs = 60_000

/**
 * Moves unfinished payments to their final state from the chain: after a crash between
 * settle and record, or a settlement left pending. A payment whose authorization was used
 * on chain is settled (`reconciled`); one that expired unused is `failed`; one whose
 * settlement the node was never known to have is settled again (`settleUnknown`). Only the
 * payments this process holds the ledger's recovery lease on (`claimStale`): two instances
 * sharing a ledger never reconcile the same payment at once.
 */
export async function reconcilePayments(options: {
  ledger: Ledger
  facilitator: FacilitatorLike
  /** Leave payments touched more recently than this alone (they are in flight). */
  olderThanMs: number
  /** Payments this process is serving or settling right now, whatever their age: left alone. */
  inFlight?: (id: string) => boolean
  /** The name this reconciler's leases go under. @default one per process */
  owner?: string
}): Promise<number> {
  const { ledger, facilitator } = options
  const inFlight = options.inFlight ?? (() => false)
  const stale = await ledger.claimStale(
    ['verified', 'settling', 'pending'],
    Date.now() - options.olderThanMs,
    options.owner ?? owner,
    leaseMs,
  )
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
    if (status.state === 'pending' && payment.state === 'pending' && payment.reason === unknownReason) {
      // Signed, never known to the node, unused and still valid: settle it again, so that the
      // seller is paid even if the payer never retries (flagged undelivered: the payer's
      // signed-in retry is served once). The facilitator's lock and the ledger's single
      // `pending → reconciled` move keep a concurrent retry from settling or serving twice.
      if (inFlight(payment.id)) continue
      const driven = await settleUnknown(ledger, facilitator, payment)
      moved += Number(driven.state !== 'pending')
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
      payment.state !== 'pending' ||
      payment.reason === 'settle_error' ||
      payment.reason === unknownReason ||
      payment.reason === 'reconciling'
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
