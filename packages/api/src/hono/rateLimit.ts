import type { MiddlewareHandler } from 'hono'
import { createRateLimiter, type RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

/**
 * Hono middleware: a rate limit for routes that are not priced. 429 `rate_limited` past the
 * limit, the `RateLimit` headers on every answer. Counts by the socket's address on
 * `@hono/node-server` (other runtimes: count with `by: (c) => …`, which gets Hono's context).
 *
 * @example
 * import { rateLimit } from '402x-api/hono'
 * app.use('/api/search', rateLimit({ maxRequests: 100, windowMs: 60000 }))
 */
export function rateLimit(
  options: RateLimitOptions | RateLimitOptions[],
): MiddlewareHandler & { limiter: RateLimiter } {
  const limiter = createRateLimiter(options, 'rateLimit() (Hono)')
  const middleware: MiddlewareHandler = async (c, next) => {
    const ip = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
      ?.remoteAddress
    const taken = await limiter.take({ headers: c.req.raw.headers, ip, req: c })
    if (taken instanceof Response) return taken
    await next()
    for (const [name, value] of taken.headers) c.header(name, value)
    limiter.settle(taken, c.res.status)
    return undefined
  }
  return Object.assign(middleware, { limiter })
}
