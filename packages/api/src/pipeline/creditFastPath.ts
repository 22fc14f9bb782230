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
  for (const route of config.routes) {
    // A limited route takes the full path: its limits are a stage of it.
    if (route.price === undefined || route.meter || route.free || route.skip || route.validate || route.limits) continue
    const main = requirementsAt([config.accepts[0] as ResolvedOption], route, route.price)[0]
    if (main) fastAmounts.set(route, BigInt(main.amount))
  }
  return {
    eligible: (route) => fastAmounts.has(route),
    draw(route, token) {
      const amount = fastAmounts.get(route)
      if (amount === undefined) return undefined
      const service = credits.service
      // Known token and balance: no waiting at all.
      const now = service.holdNow(token, amount)
      if (now !== undefined) return 'ok' in now ? undefined : new CreditDraw(rt, now)
      return (async () => {
        const account = await service.accountFor(token)
        if (!account) return undefined
        const hold = await service.hold(account, amount)
        return 'ok' in hold ? undefined : new CreditDraw(rt, hold)
      })()
    },
  }
}
