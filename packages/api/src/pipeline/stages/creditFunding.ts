import { formatMoney } from '@402x/core'
import type { ResolvedCredits } from '../../paywall/credits.js'
import { creditsPath, invalidToken } from '../../paywall/credits.js'
import type { Stage } from '../compose.js'
import { type PaidContext, refuse, required, respond } from '../context.js'
import { creditProceed } from '../creditDraw.js'
import { meteredProceed } from '../metered/meteredProceed.js'

/**
 * Credit funding: a request with a credit token and no payment header is paid from
 * credit: its price held (fixed) or its maximum reserved (metered), then served. Reads
 * `identity.token`, `decoded`, `accepts`; sets `shownBalance` when credit falls short
 * (402 offering a top-up). Money: held here, charged or released by the decision's
 * `finish`/`abort`; HEAD is never charged. Other requests pass through.
 */
export const creditFunding: Stage = async (ctx, next) => {
  const { rt, request } = ctx
  const { token } = ctx.identity
  const credits = rt.config.credits as ResolvedCredits | undefined
  if (ctx.decoded || !token || !credits || ctx.route === rt.creditsRoute || request.method === 'HEAD') return next()
  const service = credits.service
  const account = await service.accountFor(token)
  if (!account) return respond(invalidToken())
  ctx.creditAccount = account
  const { config } = rt
  const main = ctx.accepts.find((a) => a.asset === config.asset.address && a.network === config.network)
  if (!main) return required(ctx)
  const amount = BigInt(main.amount)
  if (ctx.route.meter) {
    const held = await service.reserve(account, amount, credits.reservationTtlMs)
    if (!held.ok) return insufficient(ctx, held.available)
    return meteredProceed(rt, {
      route: ctx.route,
      account,
      reservationId: held.reservationId,
      reserved: amount,
      resourceUrl: ctx.resourceUrl,
    })
  }
  const hold = await service.hold(account, amount)
  if ('ok' in hold) return insufficient(ctx, hold.available)
  return creditProceed(rt, hold, ctx.resourceUrl)
}

function insufficient(ctx: PaidContext, available: bigint) {
  ctx.shownBalance = available
  // Once per account and balance (its id), on its own: no store transaction carries it.
  const account = ctx.creditAccount as string
  ctx.rt.webhooks?.notify('credit.low', `${account}:${available}`, {
    account,
    available: formatMoney(available, ctx.rt.decimals),
    price: ctx.price,
    resource: ctx.resourceUrl,
  })
  return refuse(ctx, {
    isValid: false,
    reason: 'insufficient_credit',
    message: `this request costs $${ctx.price} and the credit left is $${formatMoney(available, ctx.rt.decimals)}: top up with POST ${creditsPath}?amount=<dollars> (with this token), or pay this request with PAYMENT-SIGNATURE`,
  })
}
