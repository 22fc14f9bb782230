import {
  createSiwxExtension,
  type PaymentRequirements,
  type SettleResponse,
  siwxExtensionKey,
  siwxHeader,
  verifySiwx,
} from '@402x/core'
import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger, PaymentRecord } from '../ledger/types.js'
import { errorResponse, stampReceipt } from './responses.js'
import { resumeUnserved } from './resumeUnserved.js'
import { unknownReason } from './settleUnknown.js'
import type { Decision, RequestHead } from './types.js'

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
  /** The address a valid SIGN-IN-WITH-X proof on this request names (lower-case), if any. */
  proven: string | undefined
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
 * resource and method as recorded), the payer proves it is asking (a SIGN-IN-WITH-X
 * proof: the signature alone is public on chain), and either its paid response never reached the caller
 * (within 10 minutes, once more at most), or its settlement faulted and the chain says it
 * landed. `retry` (never used on chain, still valid) lets the caller verify and settle it
 * anew. Anything else is a replay, or a 503 while a settlement is unconfirmed.
 */
export async function retryKnown(
  input: RetryKnownInput,
): Promise<{ type: 'retry' } | { type: 'decision'; decision: Decision } | { type: 'used' } | { type: 'sign_in' }> {
  const { known, requirements, unlock } = input
  if (!isSamePayment(input)) return { type: 'used' }
  // A settled authorization and its signature are public on chain: serving its paid
  // response again takes a proof that the payer is asking.
  const byPayer = input.proven === known.payer.toLowerCase()

  const reservable = known.undelivered && Date.now() - known.createdAt < reserveWindowMs
  if (reservable && !byPayer) return { type: 'sign_in' }
  if (reservable && (await input.ledger.setUndelivered(known.id, false))) {
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
          // The flag is written before the payment is unlocked: a duplicate of it waiting
          // on the lock then reads it as it is now.
          if (response.status >= 400) {
            await again()
            await unlock()
            return response
          }
          await unlock()
          return stampReceipt(response, settle, input.v1)
        },
      },
    }
  }

  // A retry of a payment whose settlement ended in a fault: nobody was served, and it may
  // or may not have landed. Ask the chain instead of asking the payer to pay again.
  if (known.state !== 'pending' || (known.reason !== 'settle_error' && known.reason !== unknownReason)) {
    return { type: 'used' }
  }
  const resumed = await resumeUnserved(input.ledger, input.facilitator, known.id)
  if (resumed.state === 'settled' && known.reason === unknownReason) {
    // Settled by this retry: the row is now reconciled and flagged undelivered, so it is
    // served as any paid, undelivered payment is (to the payer's sign-in, claimed once).
    const row = await input.ledger.get(known.id)
    if (row?.undelivered) return retryKnown({ ...input, known: row })
    return { type: 'used' }
  }
  if (resumed.state === 'retry') return { type: 'retry' }
  if (resumed.state === 'settled') {
    if (!byPayer) {
      // Paid and never served: kept for the payer's signed-in retry.
      await input.markUndelivered(known.id)()
      return { type: 'sign_in' }
    }
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
          input.settled(settle)
          if (response.status >= 400) {
            await input.markUndelivered(known.id)()
            await unlock()
            return response
          }
          await unlock()
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

/** Whether a request presents the very payment recorded, for the same request. */
export function isSamePayment(input: {
  known: PaymentRecord
  signature: string
  requirements: PaymentRequirements
  resourceUrl: string
  method: string
}): boolean {
  const { known, requirements } = input
  return (
    (JSON.parse(known.payload) as { payload?: { signature?: string } }).payload?.signature === input.signature &&
    known.amount === requirements.amount &&
    known.payTo.toLowerCase() === requirements.payTo.toLowerCase() &&
    known.resource === input.resourceUrl &&
    known.method === input.method
  )
}

/** A valid SIGN-IN-WITH-X proof for this very resource: who signed it, and its nonce. */
export type Proof = { address: string; nonce: string; expiresAt: number }

/**
 * The proof on this request, if it is valid for this resource's path (not just its origin),
 * recent and signed. Whoever grants something on it must spend its nonce, so that a proof
 * seen once (a log, a proxy) cannot be used again.
 */
export function provenPayer(request: RequestHead, url: string, network: string): Proof | undefined {
  const proof = request.headers.get(siwxHeader)
  if (!proof) return undefined
  const check = verifySiwx(proof, { url, networks: [network], samePath: true })
  return check.ok ? { address: check.address, nonce: check.nonce, expiresAt: check.expiresAt } : undefined
}

/** Why a retry of a paid, undelivered payment is refused without a sign-in. */
export const signInRequired = {
  reason: 'sign_in_required',
  message:
    'this payment was settled and its response not delivered: retry with the same PAYMENT-SIGNATURE and a SIGN-IN-WITH-X proof from the payer (402x-client does both); do not sign a new payment',
}

/** The sign-in-with-x challenge offered with that refusal. */
export const signInChallenge = (url: string, requirements: PaymentRequirements) => ({
  [siwxExtensionKey]: createSiwxExtension({ url, networks: [requirements.network] }),
})
