import { fetchAddressRules } from '../config/paywallOptionRules.js'
import type { RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'
import { addressOf, type FetchAddressOptions } from './fetchAddress.js'
import { limitFetch, splitAdapterOptions } from './limitFetch.js'

type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>

/** One limit of the fetch `rateLimit()`: a limit, and (on any one of them) `ip`. */
export type FetchRateLimitOptions<Rest extends unknown[] = unknown[]> = RateLimitOptions & FetchAddressOptions<Rest>

/**
 * A rate limit around a fetch-style handler (Bun, Deno, Cloudflare Workers …). It counts by
 * the address the runtime passes the handler: Bun's `server.requestIP(request)`, Deno's
 * `info.remoteAddr`, Cloudflare's `cf-connecting-ip` on Workers; elsewhere give `ip`. Without
 * an address, requests share one count, and a warning says so once.
 *
 * @example
 * import { rateLimit } from '402x-api/fetch'
 * Deno.serve(rateLimit({ maxRequests: 100, windowMs: 60000 }, (request, info) => Response.json({ ok: true })))
 */
export function rateLimit<Rest extends unknown[]>(
  options: FetchRateLimitOptions<Rest> | FetchRateLimitOptions<Rest>[],
  handler: FetchHandler<Rest>,
): FetchHandler<Rest> & { limiter: RateLimiter } {
  const where = 'rateLimit() (fetch)'
  const { limits, own } = splitAdapterOptions<FetchAddressOptions<Rest>>(options, fetchAddressRules, where)
  return limitFetch(limits, handler, where, addressOf(own.ip))
}
