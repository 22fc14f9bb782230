import type { PaymentRequirements } from '@402x/core'
import type { Stage } from '../compose.js'
import type { PaywallRuntime } from '../runtime.js'

/**
 * Price: the route's conditional `skip`, `validate`, free tier and price (quote.ts), unless
 * a stage before priced the request (a top-up). Reads `route`, `req`, `identity`; sets
 * `price`, `accepts`, `extensions`, `identityError`. Answers `skip` (free this time), 400
 * (validation) or a fault, always before any payment is looked at: nothing is charged.
 */
export const price: Stage = async (ctx, next) => {
  if (ctx.price !== undefined) return next()
  const { route, rt } = ctx
  const quoted = await rt.quote({
    route,
    request: ctx.request,
    req: ctx.req,
    ip: ctx.identity.ip,
    resourceUrl: ctx.resourceUrl,
    payer: ctx.identity.payer,
    noAddress: () => rt.noAddress('free', `${ctx.request.method} ${ctx.resourceUrl}`),
  })
  if (quoted.type !== 'quote') return quoted
  ctx.price = quoted.price
  // What is paid for a metered maximum becomes credit in the main asset's units: only
  // options with the same decimals are offered for it.
  ctx.accepts = route.meter
    ? quoted.accepts.filter((a) => decimalsOf(rt, a) === rt.config.asset.decimals)
    : quoted.accepts
  ctx.extensions = quoted.extensions
  ctx.identityError = quoted.identityError
  return next()
}

const decimalsOf = (rt: PaywallRuntime, requirements: PaymentRequirements) =>
  rt.config.accepts.find((a) => a.network === requirements.network && a.asset.address === requirements.asset)?.asset
    .decimals
