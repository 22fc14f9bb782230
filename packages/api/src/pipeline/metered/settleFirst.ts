import { errorResponse } from '../../paywall/responses.js'
import type { Decision } from '../../paywall/types.js'
import { type PaidContext, respond } from '../context.js'
import { emitPayment } from '../runtime.js'
import { settlePayment } from '../settlePayment.js'
import { creditPayment } from './creditPayment.js'

/**
 * A top-up, or a metered request paid by one payment of its maximum: settle first, then
 * credit the payment (creditPayment). A settlement sent but not confirmed is not credited
 * yet: the payer retries the same payment (with a sign-in) and it is credited once
 * confirmed. Reads `payment`, `row`, `identity.token`.
 */
export async function settleFirst(ctx: PaidContext, id: string, verifiedAt: number): Promise<Decision> {
  const { rt } = ctx
  const { requirements, exact, v1 } = ctx.payment as NonNullable<PaidContext['payment']>
  const payer = exact.authorization.from
  const paid = await settlePayment(ctx, id, verifiedAt, 200)
  // A status of 200 is never released.
  if (paid === 'released') throw new Error('unreachable: a 200 was released')
  if (paid instanceof Response) return respond(paid)
  emitPayment(rt, id, paid.state, paid.settle, requirements, payer, ctx.request.method, ctx.resourceUrl)
  if (paid.state === 'pending') {
    return respond(
      errorResponse(
        503,
        'payment_in_flight',
        `the payment was sent (${paid.settle.transaction}) and is not confirmed yet, so it is not credit yet: retry with the same PAYMENT-SIGNATURE and a SIGN-IN-WITH-X proof shortly (402x-client does both); it is credited once, when it lands`,
        5,
      ),
    )
  }
  return creditPayment(rt, {
    id,
    payer,
    requirements,
    v1,
    token: ctx.identity.token,
    route: ctx.route,
    resourceUrl: ctx.resourceUrl,
    settle: paid.settle,
  })
}
