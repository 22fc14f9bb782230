import { requirementsAt } from '../paywall/pricing.js'
import type { ResolvedOption, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { CreditDraw, type FastDraw } from './creditDraw.js'
import type { PaywallRuntime } from './runtime.js'

/**
 * The Node adapters' fast path for a request paid from credit at a price known before it
 * runs: no Web `Request` or `Response` is built. Internal to this package (adapters reach
 * it with {@link creditFastPathOf}), not part of the public `Paywall` type.
 */
export type CreditFastPath = {
  /** Whether a route's price is known up front and nothing else needs the request. */
  eligible(route: ResolvedRoute): boolean
  /**
   * Holds the route's price from the token's credit (at once when this process knows the
   * token and balance); `undefined` sends the request down the full path (401, 402 …).
   */
  draw(route: ResolvedRoute, token: string): FastDraw | undefined | Promise<FastDraw | undefined>
  /**
   * Whether a route priced by its adapter for each request (GraphQL: the operation's price)
   * may be paid with {@link CreditFastPath.drawAt}: nothing of the pipeline but the credit
   * hold applies to it (no limit, free tier, `skip`, `validate` or meter).
   */
  drawsAny(route: ResolvedRoute): boolean
  /** {@link CreditFastPath.draw} at an amount of the main asset the adapter computed. */
  drawAt(token: string, amount: bigint): FastDraw | undefined | Promise<FastDraw | undefined>
}

/** Where a paywall keeps its fast path, out of its public type. */
export const creditFastPathKey: unique symbol = Symbol('402x.creditFastPath')

/** The paywall's credit fast path; `undefined` when credit is off. */
export const creditFastPathOf = (paywall: object): CreditFastPath | undefined =>
  (paywall as { [creditFastPathKey]?: CreditFastPath })[creditFastPathKey]

export function createCreditFastPath(rt: PaywallRuntime): CreditFastPath | undefined {
  const { config } = rt
  const credits = config.credits
  if (!credits) return undefined
  /** Fixed-price routes' amounts in the main asset. */
  const fastAmounts = new Map<ResolvedRoute, bigint>()
  /** Routes with nothing but a price: a limited route takes the full path, its limits are a stage of it. */
  const plain = new Set<ResolvedRoute>()
  for (const route of config.routes) {
    if (route.meter || route.free || route.skip || route.validate || route.limits) continue
    plain.add(route)
    if (route.price === undefined) continue
    const main = requirementsAt([config.accepts[0] as ResolvedOption], route, route.price)[0]
    if (main) fastAmounts.set(route, BigInt(main.amount))
  }
  const service = credits.service
  const drawAt = (token: string, amount: bigint) => {
    // Known token and balance: no waiting at all.
    const now = service.holdNow(token, amount)
    if (now !== undefined) return 'ok' in now ? undefined : new CreditDraw(rt, now)
    return (async () => {
      const account = await service.accountFor(token)
      if (!account) return undefined
      const hold = await service.hold(account, amount)
      return 'ok' in hold ? undefined : new CreditDraw(rt, hold)
    })()
  }
  return {
    eligible: (route) => fastAmounts.has(route),
    draw(route, token) {
      const amount = fastAmounts.get(route)
      return amount === undefined ? undefined : drawAt(token, amount)
    },
    drawsAny: (route) => plain.has(route) && route.priceFn !== undefined,
    drawAt,
  }
}
