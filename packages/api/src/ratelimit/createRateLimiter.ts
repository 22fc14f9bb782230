import { checkOptions, X402Error } from '@402x/core'
import { rateLimitRules } from '../config/paywallOptionRules.js'
import { presentedKey } from '../keys/presentedKey.js'
import { parseCreditToken } from '../paywall/credits.js'
import { noAddressWarning } from './noAddressWarning.js'
import { openRateLimitStore } from './openRateLimitStore.js'
import type { RateLimitOptions } from './options.js'
import { type ResolvedLimit, resolveRateLimit } from './resolveRateLimit.js'
import { type LimitsTaken, takeLimits } from './takeLimits.js'

/** The statuses of a refused request, given back unless `countRejected`. */
const refusedStatuses = new Set([400, 401, 402, 429])

/** One standalone limiter (`rateLimit()` of each adapter): one decision per request. */
export type RateLimiter = {
  /** Takes one request's units: what was taken (its headers), or the 429/503 to answer. */
  take(input: {
    headers: { get(name: string): string | null }
    ip: string | undefined
    req: unknown
  }): Promise<LimitsTaken | Response>
  /** After the answer: a refused one (400, 401, 402, 429) is given back unless `countRejected`. */
  settle(taken: LimitsTaken, status: number): void
  /** Whether `cost` or `by` is a function (a Web adapter then builds the request view). */
  readsRequest: boolean
  limits: readonly ResolvedLimit[]
  /** Lets go of the store (a shared Redis client). */
  close(): Promise<void>
}

let limiters = 0

/**
 * The core of every standalone `rateLimit()`: the options checked (start-up stops on a bad
 * one), the store chosen (`store`, else `X402_REDIS_URL`, else in process), one decision
 * per request. Fails open by default when the store is down (a free route).
 *
 * @example
 * const limiter = createRateLimiter({ maxRequests: 100, windowMs: 60000 }, 'rateLimit()')
 */
export function createRateLimiter(
  options: RateLimitOptions | RateLimitOptions[],
  where: string,
  env: Record<string, string | undefined> = process.env,
): RateLimiter {
  const list = Array.isArray(options) ? options : [options]
  if (list.length === 0) {
    throw new X402Error('invalid_config', {
      message: `${where}: give a limit, e.g. { maxRequests: 100, windowMs: 60000 }`,
    })
  }
  for (const [i, one] of list.entries()) {
    checkOptions(one, rateLimitRules, list.length > 1 ? `${where}[${i}]` : where)
  }
  const scope = `rl:${++limiters}`
  const opened = list.map((one) => openRateLimitStore(one.store, env, `${where} store`))
  const limits = list.map(({ store: _opened, ...one }, i) =>
    resolveRateLimit(one, {
      where,
      scope,
      store: (opened[i] as (typeof opened)[number]).store,
      onStoreError: 'fail-open',
    }),
  )
  const warn = noAddressWarning()
  const noAddress = () => warn('limit', where)
  return {
    limits,
    readsRequest: limits.some((l) => l.cost || typeof l.by === 'function'),
    take: ({ headers, ip, req }) =>
      takeLimits(limits, {
        ip,
        key: presentedKey(headers),
        token: parseCreditToken(headers.get('authorization')),
        payer: undefined,
        req,
        headers,
        noAddress,
      }),
    settle(taken, status) {
      if (taken.refundsRefused && refusedStatuses.has(status)) void taken.undo()
    },
    async close() {
      await Promise.all(opened.map((o) => o.release()))
    },
  }
}
