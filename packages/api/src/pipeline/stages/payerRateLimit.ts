import { verifyAuthorization } from '@402x/core'
import { takeLimits } from '../../ratelimit/takeLimits.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'
import { withLimits } from '../withLimits.js'

/**
 * Payer rate limit: the route's limits counted by payer (`by: 'payer'`), once the payment is
 * decoded and before it is locked or verified. The payer counted is the one its signature
 * proves (checked here, with no chain: a forged header cannot use up someone else's limit);
 * a signature that does not prove it (a contract wallet, a bad one, refused later) counts by
 * IP. Reads `route.limits`, `payment`, `identity`, `req`.
 */
export const payerRateLimit: Stage = async (ctx, next) => {
  const limits = ctx.route.limits?.filter((l) => l.by === 'payer')
  // A request that carried a credit token had them counted by `rateLimit`, by its token.
  if (!limits?.length || ctx.identity.token !== undefined) return next()
  const { identity, payment } = ctx
  let payer: string | undefined
  if (payment) {
    const check = await verifyAuthorization({ payload: payment.exact, requirements: payment.requirements })
    if (check.isValid) payer = check.payer
  }
  const taken = await takeLimits(limits, {
    ip: identity.address,
    key: identity.key,
    token: identity.token,
    payer,
    req: ctx.req,
    headers: ctx.request.headers,
    noAddress: () => ctx.rt.noAddress('limit', `${ctx.request.method} ${ctx.resourceUrl}`),
  })
  if (taken instanceof Response) return respond(taken)
  return withLimits(await next(), taken)
}
