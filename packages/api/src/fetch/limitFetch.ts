import type { OptionShape } from '@402x/core'
import { checkOptions, X402Error } from '@402x/core'
import { withHeaders } from '../paywall/responses.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/createRateLimiter.js'
import type { RateLimitOptions } from '../ratelimit/options.js'

type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>

/**
 * A standalone limit's adapter options (`ip`, `trustedHops`), split from the limits: given on
 * any one limit, or the same on several (one request has one address).
 */
export function splitAdapterOptions<Own extends object>(
  options: (RateLimitOptions & Own) | (RateLimitOptions & Own)[],
  rules: OptionShape,
  where: string,
): { limits: RateLimitOptions[]; own: Partial<Own> } {
  const list = Array.isArray(options) ? options : [options]
  const own: Record<string, unknown> = {}
  const limits = list.map((one, i) => {
    if (typeof one !== 'object' || one === null) return one
    const limit: Record<string, unknown> = { ...one }
    const picked: Record<string, unknown> = {}
    for (const key of Object.keys(rules)) {
      if (limit[key] === undefined) continue
      picked[key] = limit[key]
      delete limit[key]
    }
    checkOptions(picked, rules, list.length > 1 ? `${where}[${i}]` : where)
    for (const [key, value] of Object.entries(picked)) {
      if (own[key] !== undefined && own[key] !== value) {
        throw new X402Error('invalid_config', {
          message: `${where}: the limits give different \`${key}\`: a request has one address, give \`${key}\` once`,
          details: { option: key, where },
        })
      }
      own[key] = value
    }
    return limit as RateLimitOptions
  })
  return { limits, own: own as Partial<Own> }
}

/** The standalone `rateLimit()` of the fetch-style adapters (fetch, Next.js), with its address-finder. */
export function limitFetch<Rest extends unknown[]>(
  limits: RateLimitOptions[],
  handler: FetchHandler<Rest>,
  where: string,
  ipOf: (request: Request, rest: Rest) => string | undefined,
): FetchHandler<Rest> & { limiter: RateLimiter } {
  const limiter = createRateLimiter(limits, where)
  const limited = async (request: Request, ...rest: Rest): Promise<Response> => {
    const taken = await limiter.take({ headers: request.headers, ip: ipOf(request, rest), req: request })
    if (taken instanceof Response) return taken
    const response = await handler(request, ...rest)
    limiter.settle(taken, response.status)
    return taken.headers.length ? withHeaders(response, taken.headers) : response
  }
  return Object.assign(limited, { limiter })
}
