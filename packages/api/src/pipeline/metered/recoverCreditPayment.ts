import type { PaymentRequirements } from '@402x/core'
import type { PaymentRecord } from '../../ledger/types.js'
import type { ResolvedRoute } from '../../paywall/resolvePaywall.js'
import { errorResponse } from '../../paywall/responses.js'
import { resumeUnserved } from '../../paywall/resumeUnserved.js'
import { isSamePayment } from '../../paywall/retryKnown.js'
import type { Decision } from '../../paywall/types.js'
import { respond } from '../context.js'
import type { PaywallRuntime } from '../runtime.js'
import { creditPayment } from './creditPayment.js'

/**
 * The same payment for credit, presented again (a lost answer, a settlement fault, a crash
 * between settling and crediting): settled ones are credited (once) and answered, with a
 * new token for the account, to the payer's signed-in retry. Money: never a second charge,
 * never lost; only the payer's sign-in gets the credit.
 */
export async function recoverCreditPayment(
  rt: PaywallRuntime,
  input: {
    known: PaymentRecord
    signature: string
    payer: string
    /** The payer's sign-in on this request, spent when it is used; `undefined` without one. */
    proven: () => Promise<string | undefined>
    requirements: PaymentRequirements
    method: string
    resourceUrl: string
    v1: boolean
    token: string | undefined
    route: ResolvedRoute
  },
): Promise<Decision | 'retry' | 'used' | 'sign_in'> {
  const { known } = input
  if (!isSamePayment(input)) return 'used'
  let transaction = known.transaction ?? ''
  if (known.state === 'verified' || known.state === 'settling') {
    return respond(
      errorResponse(
        503,
        'payment_in_flight',
        'this payment is being settled or reconciled; retry shortly with the same payment and a sign-in, do not pay again',
        5,
      ),
    )
  }
  if (known.state === 'pending') {
    const resumed = await resumeUnserved(rt.ledger, rt.facilitator, known.id)
    if (resumed.state === 'retry') return 'retry'
    if (resumed.state === 'failed') return 'used'
    if (resumed.state !== 'settled') {
      return respond(
        errorResponse(
          503,
          'payment_in_flight',
          'the settlement of this payment is not confirmed yet; retry shortly with the same payment, do not pay again',
          5,
        ),
      )
    }
    transaction = resumed.transaction
  } else if (known.state !== 'settled' && known.state !== 'reconciled') {
    return 'used'
  }
  // Paid. The authorization is public on chain: only the payer's sign-in gets its credit.
  if ((await input.proven()) !== known.payer.toLowerCase()) return 'sign_in'
  return creditPayment(rt, {
    id: known.id,
    payer: input.payer,
    requirements: input.requirements,
    v1: input.v1,
    token: input.token,
    route: input.route,
    resourceUrl: input.resourceUrl,
    settle: {
      success: true,
      transaction,
      network: input.requirements.network,
      payer: input.payer,
      amount: known.amount,
    },
    recovered: true,
  })
}
