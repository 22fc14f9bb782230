import type { NextRequest } from 'next/server.js'
import { nextAddressRules } from '../config/paywallOptionRules.js'
import { limitFetch, splitAdapterOptions } from '../fetch/limitFetch.js'
import type { RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'
import { type NextAddressOptions, nextAddressOf } from './nextAddress.js'

type RouteHandler<Rest extends unknown[]> = (request: NextRequest, ...rest: Rest) => Response | Promise<Response>

/** One limit of the Next.js `rateLimit()`: a limit, and (on any one of them) `ip` or `trustedHops`. */
export type NextRateLimitOptions = RateLimitOptions & NextAddressOptions

/**
 * A rate limit around a Next.js App Router route handler that is not priced. Next gives no
 * caller address but `request.ip` (Next 14): the count is by that, else by the
 * `X-Forwarded-For` entry the proxy in front appended (`trustedHops`, 1 by default: the
 * rightmost), never one the caller wrote; or by `ip`. Without an address, requests share one
 * count, and a warning says so once.
 *
 * @example
 * import { rateLimit } from '402x-api/next'
 * export const GET = rateLimit({ maxRequests: 100, windowMs: 60000 }, () => Response.json({ ok: true }))
 */
export function rateLimit<Rest extends unknown[]>(
  options: NextRateLimitOptions | NextRateLimitOptions[],
  handler: RouteHandler<Rest>,
): RouteHandler<Rest> & { limiter: RateLimiter } {
  const where = 'rateLimit() (Next.js)'
  const { limits, own } = splitAdapterOptions<NextAddressOptions>(options, nextAddressRules, where)
  const ipOf = nextAddressOf(own as NextAddressOptions, where)
  return limitFetch(
    limits,
    handler as (request: Request, ...rest: Rest) => Response | Promise<Response>,
    where,
    (request) => ipOf(request as NextRequest),
  )
}
