import type { IncomingMessage, ServerResponse } from 'node:http'
import { rateLimit as rateLimitMiddleware } from '../express/rateLimit.js'
import type { RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown

/**
 * A rate limit around a plain Node `http` handler (a route that is not priced): 429
 * `rate_limited` past the limit, the `RateLimit` headers on every answer. Counts by the
 * socket's address, IPv6 by /64 (behind a proxy, count with `by: (req) => …`).
 *
 * @example
 * import { rateLimit } from '402x-api/node'
 * http.createServer(rateLimit({ maxRequests: 100, windowMs: 60000 }, (req, res) => res.end('ok')))
 */
export function rateLimit(
  options: RateLimitOptions | RateLimitOptions[],
  handler: Handler,
): Handler & { limiter: RateLimiter } {
  const middleware = rateLimitMiddleware(options)
  const listener = (req: IncomingMessage, res: ServerResponse) =>
    middleware(req, res, (error) => {
      if (error) {
        res.destroy(error as Error)
        return
      }
      Promise.resolve(handler(req, res)).catch((e: unknown) => res.destroy(e as Error))
    })
  return Object.assign(listener, { limiter: middleware.limiter })
}
