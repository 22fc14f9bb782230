import { withHeaders } from '../paywall/responses.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>

/**
 * A rate limit around a fetch-style handler (Bun, Deno, Cloudflare-style runtimes, Next.js
 * route handlers). These runtimes give no caller address to the handler: count with
 * `by: (request) => request.headers.get('cf-connecting-ip')` or the like; without one, every
 * caller shares one count.
 *
 * @example
 * import { rateLimit } from '402x-api/fetch'
 * export default { fetch: rateLimit({ maxRequests: 100, windowMs: 60000, by: (r) => r.headers.get('x-real-ip') ?? undefined }, handler) }
 */
export function rateLimit<Rest extends unknown[]>(
  options: RateLimitOptions | RateLimitOptions[],
  handler: FetchHandler<Rest>,
  where = 'rateLimit() (fetch)',
  ipOf: (request: Request) => string | undefined = () => undefined,
): FetchHandler<Rest> & { limiter: RateLimiter } {
  const limiter = createRateLimiter(options, where)
  const limited = async (request: Request, ...rest: Rest): Promise<Response> => {
    const taken = await limiter.take({ headers: request.headers, ip: ipOf(request), req: request })
    if (taken instanceof Response) return taken
    const response = await handler(request, ...rest)
    limiter.settle(taken, response.status)
    return taken.headers.length ? withHeaders(response, taken.headers) : response
  }
  return Object.assign(limited, { limiter })
}
