import type { FastifyReply, FastifyRequest } from 'fastify'
import { headerView } from '../node/headerView.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

export type RateLimitHook = ((request: FastifyRequest, reply: FastifyReply) => Promise<void>) & {
  limiter: RateLimiter
}

/**
 * A Fastify `onRequest` hook: a rate limit for routes that are not priced. 429
 * `rate_limited` past the limit, the `RateLimit` headers on every answer. Counts by
 * `request.ip` (Fastify's `trustProxy` applies), IPv6 by /64.
 *
 * @example
 * import { rateLimit } from '402x-api/fastify'
 * app.get('/api/search', { onRequest: rateLimit({ maxRequests: 100, windowMs: 60000 }) }, handler)
 * // or every route: app.addHook('onRequest', rateLimit({ maxRequests: 100, windowMs: 60000 }))
 */
export function rateLimit(options: RateLimitOptions | RateLimitOptions[]): RateLimitHook {
  const limiter = createRateLimiter(options, 'rateLimit() (Fastify)')
  const hook = async (request: FastifyRequest, reply: FastifyReply) => {
    const taken = await limiter.take({ headers: headerView(request.raw), ip: request.ip, req: request })
    if (taken instanceof Response) {
      reply.code(taken.status)
      taken.headers.forEach((value, name) => {
        reply.header(name, value)
      })
      await reply.send(Buffer.from(await taken.arrayBuffer()))
      return
    }
    for (const [name, value] of taken.headers) reply.header(name, value)
    reply.raw.once('finish', () => limiter.settle(taken, reply.raw.statusCode))
  }
  return Object.assign(hook, { limiter })
}
