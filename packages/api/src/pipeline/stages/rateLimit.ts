import { takeLimits } from '../../ratelimit/takeLimits.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'
import { withLimits } from '../withLimits.js'

/**
 * Rate limit: takes this request's units from the route's limits (except those counted by
 * payer on a request paid with x402: `payerRateLimit`'s) before anything is verified, held or run, or answers 429
 * `rate_limited` (503 `store_unavailable` when a store is down and the limit fails closed).
 * A limited caller is never charged and never moves a nonce. The answer, whatever it is,
 * carries the `RateLimit` headers; a request refused later (400, 401, 402, 429) is given back
 * unless a limit has `countRejected`. Reads `route.limits`, `identity`, `req`.
 */
export const rateLimit: Stage = async (ctx, next) => {
  // A request on credit counts its payer limits here, by its token; x402 ones wait for the payment.
  const onCredit = ctx.identity.token !== undefined
  const limits = ctx.route.limits?.filter((l) => l.by !== 'payer' || onCredit)
  if (!limits?.length) return next()
  const { identity } = ctx
  const taken = await takeLimits(limits, {
    ip: identity.address,
    key: identity.key,
    token: identity.token,
    payer: undefined,
    req: ctx.req,
    headers: ctx.request.headers,
    noAddress: () => ctx.rt.noAddress('limit', `${ctx.request.method} ${ctx.resourceUrl}`),
  })
  if (taken instanceof Response) return respond(taken)
  return withLimits(await next(), taken)
}
