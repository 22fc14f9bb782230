import { checkOptions, type OptionShape, X402Error } from '@402x/core'
import type { PaywallOptions, RouteOptions } from '../paywall/types.js'
import { checkRateLimit } from '../ratelimit/resolveRateLimit.js'
import { paywallRules, routeRules } from './paywallOptionRules.js'

/**
 * Checks a paywall's options strictly, before anything is resolved: an unknown key (with the
 * nearest known one), a value of the wrong kind, an option that is not honoured yet
 * (`rateLimit`) or cannot be turned off (`verifyNonce: false`), a route option next to a
 * `routes` table (it would apply to no route), or `errors: 'next'` on an adapter that has no
 * error handler to hand a 402 to (`adapter` names it), all
 * stop start-up with `invalid_config`. Nothing a seller writes is silently ignored. `own`
 * holds the options only that adapter reads (the fetch and Next.js adapters' `ip`).
 *
 * @example
 * checkPaywallOptions({ price: 0.01, rateLimt: {} })
 * // throws: x402Middleware(): `rateLimt` is not an option: did you mean `rateLimit`?
 */
export function checkPaywallOptions(options: PaywallOptions, adapter?: string, own?: OptionShape): void {
  // Express's middleware and `createPaywall` (for `nodeMiddleware`) can hand 402s on; the
  // adapters that name themselves here answer them.
  const where = adapter ?? 'x402Middleware()'
  checkOptions(options, own ? { ...paywallRules, ...own } : paywallRules, where)
  const given = options as Record<string, unknown>
  if (given.routes !== undefined) {
    // `rateLimit` beside a table is one limit all its routes share.
    const beside = Object.keys(routeRules).filter((key) => key !== 'rateLimit' && given[key] !== undefined)
    if (beside.length > 0) {
      throw new X402Error('invalid_config', {
        message: `${where}: ${beside.join(', ')} next to routes would be ignored: give it in the route, e.g. routes: { 'POST /api/complete': { pricePerToken: 0.0001, ${beside[0]}: … } }`,
        details: { option: beside[0], where },
      })
    }
  }
  // What each rateLimit means, checked here too: Next.js builds its paywall on the first request.
  const limits = (option: unknown, name: string) => {
    const list = Array.isArray(option) ? option : option ? [option] : []
    for (const [i, one] of list.entries()) checkRateLimit(one, `${where} ${name}${list.length > 1 ? `[${i}]` : ''}`)
  }
  limits(given.rateLimit, 'rateLimit')
  for (const [source, route] of Object.entries((given.routes ?? {}) as Record<string, unknown>)) {
    if (typeof route === 'object' && route)
      limits((route as { rateLimit?: unknown }).rateLimit, `"${source}" rateLimit`)
  }
  if (options.errors === 'next' && adapter) {
    throw new X402Error('invalid_config', {
      message: `${where}: errors: 'next' is for Express (and nodeMiddleware), whose error handler gets the 402; here the paywall answers the 402 itself: remove it`,
      details: { option: 'errors', where },
    })
  }
}

/** The quoted `maxTimeoutSeconds` of a route: `nonceExpiry` (ms) / 1000, `maxTimeoutSeconds`, or 60. */
export function maxTimeoutOf(route: RouteOptions, name: string): number {
  const { nonceExpiry, maxTimeoutSeconds } = route
  if (nonceExpiry === undefined) return maxTimeoutSeconds ?? 60
  if (maxTimeoutSeconds !== undefined && maxTimeoutSeconds * 1000 !== nonceExpiry) {
    throw new X402Error('invalid_config', {
      message: `${name}: nonceExpiry (${nonceExpiry} ms) and maxTimeoutSeconds (${maxTimeoutSeconds} s) disagree: give one of them`,
      details: { option: 'nonceExpiry' },
    })
  }
  return nonceExpiry / 1000
}
