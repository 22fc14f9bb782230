import { ExactEvmPayloadSchema, exactEvmPayloadOf } from '@402x/core'
import { matchPayment } from '../../paywall/matchPayment.js'
import type { Stage } from '../compose.js'
import { refuse, required } from '../context.js'

/**
 * Decode payment: without a payment header, the 402 challenge (with a top-up offer when
 * credit is on); with one, the payment matched against `accepts` and its `exact` payload
 * parsed, or refused (400 for a malformed header, 402 for a mismatch). Reads `decoded`,
 * `price`, `accepts`, `identity.payer`; sets `payment`. Nothing is locked or charged yet.
 */
export const decodePayment: Stage = (ctx, next) => {
  const { decoded, route } = ctx
  if (!decoded) return Promise.resolve(required(ctx, ctx.identityError))
  if (ctx.request.method === 'HEAD') {
    return Promise.resolve(
      refuse(ctx, {
        isValid: false,
        reason: 'invalid_payload',
        message: 'pay with GET, not HEAD: HEAD is never charged',
      }),
    )
  }
  if (!decoded.ok) return Promise.resolve(refuse(ctx, decoded.error, 400))
  const price = ctx.price as string
  const matched = matchPayment(decoded.value, ctx.accepts, {
    computed: Boolean(route.priceFn),
    price,
    payer: ctx.identity.payer,
  })
  if (!matched.ok) {
    // A price function gave another price for the paid attempt than the payer was quoted:
    // expected for volume tiers, a bug in a function of the request alone (warned once).
    const { warned } = ctx.rt
    if (matched.error.reason === 'price_changed' && !route.usesPayer && !warned.has(route)) {
      warned.add(route)
      console.warn(
        `402x: the price function of ${route.pattern?.source ?? 'this route'} gave a different price for the paid attempt ($${price}) than the payer was quoted. A price must depend only on the request (and the payer); callers are asked to sign again.`,
      )
    }
    return Promise.resolve(refuse(ctx, matched.error))
  }
  const { payload, requirements } = matched
  const fast = exactEvmPayloadOf(payload.payload)
  const exact = fast ? { success: true as const, data: fast } : ExactEvmPayloadSchema.safeParse(payload.payload)
  if (!exact.success) {
    const issue = exact.error.issues[0]
    return Promise.resolve(
      refuse(
        ctx,
        { isValid: false, reason: 'invalid_payload', message: `payload.${issue?.path.join('.')}: ${issue?.message}` },
        400,
      ),
    )
  }
  ctx.payment = { payload, requirements, exact: exact.data, v1: decoded.value.x402Version === 1 }
  return next()
}
