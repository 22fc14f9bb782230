import { type Paid, settleAndServe } from '../paywall/settleAndServe.js'
import { type PaidContext, paymentRequired } from './context.js'

/**
 * Settles (status < 400) or releases the payment this request recorded as row `id`: the
 * one call of `settleAndServe` with this request's payment, stores and 402. Reads `payment`.
 */
export function settlePayment(
  ctx: PaidContext,
  id: string,
  verifiedAt: number,
  status: number,
): Promise<'released' | Paid | Response> {
  const { rt } = ctx
  const { payload, requirements, exact } = ctx.payment as NonNullable<PaidContext['payment']>
  return settleAndServe({
    ledger: rt.ledger,
    facilitator: rt.facilitator,
    events: rt.events,
    id,
    payer: exact.authorization.from,
    payload,
    requirements,
    status,
    verifiedAt,
    paymentRequired: (error, settle) => paymentRequired(ctx, error, settle),
  })
}
