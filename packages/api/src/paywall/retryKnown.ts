import type { PaymentRequirements, SettleResponse } from '@402x/core'
import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger, PaymentRecord } from '../ledger/types.js'
import { errorResponse, stampReceipt } from './responses.js'
import { resumeUnserved } from './resumeUnserved.js'
import type { Decision } from './types.js'

/** How long after the payment an undelivered paid response may be fetched again. */
const reserveWindowMs = 10 * 60_000

export type RetryKnownInput = {
  /** The live payment recorded for this authorization (network, asset, payer, nonce). */
  known: PaymentRecord
  ledger: Ledger
  facilitator: FacilitatorLike
  /** This request: its payment's signature, the requirements it matched, method and URL. */
  signature: string
  /** The payer as the payment names it (checksummed). */
  payer: string
  requirements: PaymentRequirements
  method: string
  resourceUrl: string
  v1: boolean
  unlock: () => Promise<void>
  /** Reports a payment found settled on chain (the `payment` event). */
  settled(settle: SettleResponse): void
  /** Flags a payment's paid response as not delivered. */
  markUndelivered(id: string): () => Promise<void>
}

/**
 * A request that presents a payment already recorded. It is served without a new charge
 * only when it is that same payment for that same request (signature, amount, payee,
 * resource and method as recorded) and either its paid response never reached the caller
 * (within 10 minutes, once more at most), or its settlement faulted and the chain says it
 * landed. `retry` (never used on chain, still valid) lets the caller verify and settle it
 * anew. Anything else is a replay, or a 503 while a settlement is unconfirmed.
 */
export async function retryKnown(
  input: RetryKnownInput,
): Promise<{ type: 'retry' } | { type: 'decision'; decision: Decision } | { type: 'used' }> {
  const { known, requirements, unlock } = input
  const sameAsRecorded =
    (JSON.parse(known.payload) as { payload?: { signature?: string } }).payload?.signature === input.signature &&
    known.amount === requirements.amount &&
    known.payTo.toLowerCase() === requirements.payTo.toLowerCase() &&
    known.resource === input.resourceUrl &&
    known.method === input.method
  if (!sameAsRecorded) return { type: 'used' }

  if (
    known.undelivered &&
    Date.now() - known.createdAt < reserveWindowMs &&
    (await input.ledger.setUndelivered(known.id, false))
  ) {
    // Paid, but the answer never reached the caller: serve it once more, no new charge.
    const pending = known.state === 'pending'
    const settle: SettleResponse = {
      success: !pending,
      transaction: known.transaction ?? '',
      network: requirements.network,
      payer: input.payer,
      amount: known.amount,
      ...(pending ? { errorReason: 'settlement_pending' } : {}),
    }
    const again = input.markUndelivered(known.id)
    // A caller that leaves again does not re-arm it (that would let anyone replay the
    // handler at will). Only a handler failure, which serves nothing, leaves it to retry.
    return {
      type: 'decision',
      decision: {
        type: 'proceed',
        requirements,
        abort: async () => unlock(),
        undelivered: async () => {},
        finish: async (response) => {
          await unlock()
          if (response.status >= 400) {
            await again()
            return response
          }
          return stampReceipt(response, settle, input.v1)
        },
      },
    }
  }

  // A retry of a payment whose settlement ended in a fault: nobody was served, and it may
  // or may not have landed. Ask the chain instead of asking the payer to pay again.
  if (known.state !== 'pending' || known.reason !== 'settle_error') return { type: 'used' }
  const resumed = await resumeUnserved(input.ledger, input.facilitator, known.id)
  if (resumed.state === 'retry') return { type: 'retry' }
  if (resumed.state === 'settled') {
    const settle: SettleResponse = {
      success: true,
      transaction: resumed.transaction,
      network: requirements.network,
      payer: input.payer,
      amount: requirements.amount,
    }
    return {
      type: 'decision',
      decision: {
        type: 'proceed',
        requirements,
        // Already paid on chain: charged whatever happens now, so anything that leaves the
        // payer unserved (the caller left, the handler failed) leaves it to retry.
        abort: async () => {
          await input.markUndelivered(known.id)()
          await unlock()
        },
        undelivered: input.markUndelivered(known.id),
        finish: async (response) => {
          await unlock()
          input.settled(settle)
          if (response.status >= 400) {
            await input.markUndelivered(known.id)()
            return response
          }
          return stampReceipt(response, settle, input.v1)
        },
      },
    }
  }
  if (resumed.state === 'pending') {
    await unlock()
    return {
      type: 'decision',
      decision: {
        type: 'respond',
        response: errorResponse(
          503,
          'payment_in_flight',
          'the settlement of this payment is not confirmed yet; retry shortly with the same payment, do not pay again',
          5,
        ),
      },
    }
  }
  return { type: 'used' }
}
