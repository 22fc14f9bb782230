import { formatMoney, parseMoney } from '@402x/core'
import { errorResponse } from '../../paywall/responses.js'
import type { Decision } from '../../paywall/types.js'
import type { Stage } from '../compose.js'
import { type PaidContext, respond } from '../context.js'
import { creditProceed } from '../creditDraw.js'
import { withUsage } from '../keyUsage.js'
import { meteredProceed } from '../metered/meteredProceed.js'
import { creditService } from '../runtime.js'

/**
 * Key funding: a call on an API key's plan, once priced. Within an `included` plan it is
 * served with nothing drawn; on pay-as-you-go (`billing: 'credits'`) the route's price is held
 * from the key's credit account, and past the quota of a plan with billed overage the
 * overage price is (402 `insufficient_credit` when the credit falls short). Every served
 * call records a usage event (keyUsage.ts). Reads `apiKey`, `price`, `accepts`.
 */
export const keyFunding: Stage = async (ctx, next) => {
  const held = ctx.apiKey
  if (!held) return next()
  const { plan, record } = held
  if (plan.billing === 'included' && !held.over) return withUsage(ctx, included, 0n)
  const { rt } = ctx
  const service = creditService(rt)
  const amount = held.over && plan.overage !== 'block' ? overageAmount(ctx, plan.overage.price) : routeAmount(ctx)
  if (amount === undefined) return next()
  if (ctx.route.meter && !held.over) {
    const reserved = await service.reserve(record.account, amount, rt.config.credits?.reservationTtlMs ?? 600_000)
    if (!reserved.ok) return respond(short(ctx, amount, reserved.available))
    const decision = meteredProceed(rt, {
      route: ctx.route,
      account: record.account,
      reservationId: reserved.reservationId,
      reserved: amount,
      resourceUrl: ctx.resourceUrl,
    })
    return withUsage(ctx, decision, amount)
  }
  const hold = await service.hold(record.account, amount)
  if ('ok' in hold) return respond(short(ctx, amount, hold.available))
  return withUsage(ctx, creditProceed(rt, hold, ctx.resourceUrl), amount)
}

/** A call within the plan's allowance: the handler's answer is served as it is. */
const included: Decision = {
  type: 'proceed',
  finish: async (response) => response,
  finishStatus: async () => undefined,
  abort: async () => {},
  undelivered: async () => {},
}

/** The route's price in the main asset's units, as `price` quoted it. */
function routeAmount(ctx: PaidContext): bigint | undefined {
  const { config } = ctx.rt
  const main = ctx.accepts.find((a) => a.asset === config.asset.address && a.network === config.network)
  return main ? BigInt(main.amount) : undefined
}

const overageAmount = (ctx: PaidContext, price: string) =>
  parseMoney(price, { decimals: ctx.rt.decimals, name: 'overage price' })

function short(ctx: PaidContext, amount: bigint, available: bigint): Response {
  const { decimals } = ctx.rt
  return errorResponse(
    402,
    'insufficient_credit',
    `this call costs $${formatMoney(amount, decimals)} from the key's credit and $${formatMoney(available, decimals)} is left: ask the API's operator to top the key up (402x keys grant, or the admin API); nothing was charged`,
  )
}
