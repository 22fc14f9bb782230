import type { ServerResponse } from 'node:http'
import { sendWebResponse } from '../node/captureResponse.js'
import { headerView } from '../node/headerView.js'
import type { Next, NodeRequest } from '../node/nodeMiddleware.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

export type RateLimitMiddleware = ((req: NodeRequest, res: ServerResponse, next: Next) => void) & {
  limiter: RateLimiter
}

/**
 * A rate limit for routes that are not priced (Express, Connect, any Node framework with
 * `(req, res, next)`): 429 `rate_limited` past the limit, the `RateLimit` headers on every
 * answer. Counts by `req.ip` (Express's `trust proxy` applies), IPv6 by /64. Fails open
 * when its store is down, unless `onStoreError: 'fail-closed'`.
 *
 * @example
 * import { rateLimit } from '402x-api'
 * app.use('/api/search', rateLimit({ maxRequests: 100, windowMs: 60000, message: 'Too many requests, please slow down' }))
 */
export function rateLimit(options: RateLimitOptions | RateLimitOptions[]): RateLimitMiddleware {
  const limiter = createRateLimiter(options, 'rateLimit()')
  const middleware = (req: NodeRequest, res: ServerResponse, next: Next) => {
    limiter
      .take({ headers: headerView(req), ip: req.ip ?? req.socket?.remoteAddress, req })
      .then(async (taken) => {
        if (taken instanceof Response) {
          await sendWebResponse(res, taken, req.method === 'HEAD')
          return
        }
        for (const [name, value] of taken.headers) res.setHeader(name, value)
        res.once('finish', () => limiter.settle(taken, res.statusCode))
        next()
      })
      .catch(next)
  }
  return Object.assign(middleware, { limiter })
}
