import { X402Error } from '@402x/core'
import type { AnyRequest } from '../paywall/types.js'
import type { RateLimitBy, RateLimitOptions } from './options.js'
import { rateLimitPolicyName } from './rateLimitHeaders.js'
import type { RateLimitStore, RatePolicy } from './types.js'

/** A rate limit with every setting checked and its default filled in. */
export type ResolvedLimit = {
  policy: RatePolicy
  /** The policy's name in the headers (`100-in-1min`). */
  name: string
  /** Where its counts live in the store: `<prefix>:<caller>`. */
  prefix: string
  /** The window in seconds (the `w` of `RateLimit-Policy`). */
  windowSeconds: number
  message: string | undefined
  cost: ((req: AnyRequest) => number | Promise<number>) | undefined
  by: RateLimitBy
  ipv6Subnet: number | false
  countRejected: boolean
  onStoreError: 'fail-closed' | 'fail-open'
  store: RateLimitStore
  keyHeader: string
}

const whole = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min

/**
 * What a `rateLimit` option means (its policy and window), or an `invalid_config` error
 * naming the field: the checks that need no store, run at start-up by every adapter.
 */
export function checkRateLimit(
  options: RateLimitOptions,
  where: string,
): { policy: RatePolicy; windowSeconds: number } {
  const fail = (message: string): never => {
    throw new X402Error('invalid_config', { message: `${where}: ${message}`, details: { option: 'rateLimit' } })
  }
  const algorithm = options.algorithm ?? (options.capacity !== undefined ? 'token-bucket' : 'sliding-window')
  let policy: RatePolicy
  let windowSeconds: number
  if (algorithm === 'token-bucket') {
    if (options.maxRequests !== undefined || options.windowMs !== undefined) {
      fail('a token bucket takes `capacity` and `refillPerSecond`, not `maxRequests`/`windowMs`: give one kind')
    }
    if (!whole(options.capacity, 1)) fail(`capacity is ${options.capacity}: give a whole number of tokens ≥ 1, e.g. 20`)
    const refill = options.refillPerSecond
    if (typeof refill !== 'number' || !(refill > 0) || !Number.isFinite(refill)) {
      fail(`refillPerSecond is ${refill}: give the tokens added per second, above 0, e.g. 5`)
    }
    const capacity = options.capacity as number
    policy = { algorithm, capacity, refillPerSecond: refill as number }
    windowSeconds = Math.ceil(capacity / (refill as number))
  } else {
    if (options.capacity !== undefined || options.refillPerSecond !== undefined) {
      fail(
        `\`capacity\` and \`refillPerSecond\` are a token bucket's: add algorithm: 'token-bucket', or use maxRequests/windowMs`,
      )
    }
    if (!whole(options.maxRequests, 1)) {
      fail(`maxRequests is ${options.maxRequests}: give a whole number of requests per window ≥ 1, e.g. 100`)
    }
    const windowMs = options.windowMs ?? 60_000
    if (!whole(windowMs, 1)) fail(`windowMs is ${windowMs}: give a whole number of ms above 0, e.g. 60000 for a minute`)
    const limit = options.maxRequests as number
    policy = { algorithm, limit, windowMs }
    windowSeconds = Math.ceil(windowMs / 1000)
  }
  if (options.ipv6Subnet !== undefined && options.ipv6Subnet !== false && !inRange(options.ipv6Subnet, 8, 128)) {
    fail(`ipv6Subnet is ${options.ipv6Subnet}: give a prefix length from 8 to 128 (64 groups one subscriber), or false`)
  }
  if (options.name !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(options.name)) {
    fail(`name "${options.name}" must be 1 to 64 letters, digits, ".", "_" or "-" (it is sent in a header)`)
  }
  if (options.keyHeader !== undefined && !/^[A-Za-z0-9-]+$/.test(options.keyHeader)) {
    fail(`keyHeader "${options.keyHeader}" is not a header name, e.g. "x-api-key"`)
  }
  if (typeof options.store === 'string' && !/^rediss?:\/\//i.test(options.store)) {
    fail(`store "${options.store}" is not a redis:// URL (or give a store object)`)
  }
  return { policy, windowSeconds }
}

/**
 * Checks one `rateLimit` option and fills in its defaults, or stops start-up with an
 * `invalid_config` error naming the setting (`where`) and what to give instead. The kind of
 * each field is checked before (the option rules); here, what fields mean together.
 *
 * @example
 * const limit = resolveRateLimit({ maxRequests: 100, windowMs: 60000 }, {
 *   where: '"GET /api"', scope: 'GET /api', store, onStoreError: 'fail-closed',
 * })
 */
export function resolveRateLimit(
  options: RateLimitOptions,
  context: {
    /** How the option is named in messages (`x402Middleware() rateLimit`). */
    where: string
    /** What the counts belong to (the route's pattern, or `rateLimit()`): the default prefix. */
    scope: string
    /** The store when the option names none. */
    store: RateLimitStore
    /** The default of `onStoreError` here. */
    onStoreError: 'fail-closed' | 'fail-open'
    /** Opens the store a `redis://` URL names. */
    openStore?: (url: string) => RateLimitStore
  },
): ResolvedLimit {
  const { where } = context
  const { policy, windowSeconds } = checkRateLimit(options, where)
  let store = context.store
  if (typeof options.store === 'string') {
    if (!context.openStore) {
      throw new X402Error('invalid_config', {
        message: `${where}: store: a Redis URL is not taken here; give it in \`stores.rateLimits\``,
        details: { option: 'rateLimit' },
      })
    }
    store = context.openStore(options.store)
  } else if (options.store) {
    store = options.store
  }
  const name = options.name ?? rateLimitPolicyName(policy)
  return {
    policy,
    name,
    prefix: options.prefix ?? `${context.scope}:${name}`,
    windowSeconds,
    message: options.message,
    cost: options.cost,
    by: options.by ?? 'ip',
    ipv6Subnet: options.ipv6Subnet ?? 64,
    countRejected: options.countRejected ?? false,
    onStoreError: options.onStoreError ?? context.onStoreError,
    store,
    keyHeader: (options.keyHeader ?? 'x-api-key').toLowerCase(),
  }
}

const inRange = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max
