import type { NextRequest } from 'next/server.js'
import { rateLimit as fetchRateLimit } from '../fetch/rateLimit.js'
import type { RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

type RouteHandler<Rest extends unknown[]> = (request: NextRequest, ...rest: Rest) => Response | Promise<Response>

/** The caller's address as the host in front of Next sets it (Vercel: `x-forwarded-for`, `x-real-ip`). */
const forwardedFor = (request: Request) =>
  request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() || request.headers.get('x-real-ip') || undefined

/**
 * A rate limit around a Next.js App Router route handler that is not priced. Next gives no
 * caller address: the count is by the first `x-forwarded-for` address (or `x-real-ip`), as
 * the host in front of Next sets it (Vercel does). With nothing in front that sets it, a
 * caller can send its own: count with `by` then.
 *
 * @example
 * import { rateLimit } from '402x-api/next'
 * export const GET = rateLimit({ maxRequests: 100, windowMs: 60000 }, () => Response.json({ ok: true }))
 */
export function rateLimit<Rest extends unknown[]>(
  options: RateLimitOptions | RateLimitOptions[],
  handler: RouteHandler<Rest>,
): RouteHandler<Rest> & { limiter: RateLimiter } {
  return fetchRateLimit(
    options,
    handler as (request: Request, ...rest: Rest) => Response | Promise<Response>,
    'rateLimit() (Next.js)',
    forwardedFor,
  )
}
