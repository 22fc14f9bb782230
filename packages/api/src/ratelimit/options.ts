import type { AnyRequest } from '../paywall/decision.js'
import type { RateLimitStore } from './types.js'

/**
 * Who counts as one caller of a limit: `'ip'` (IPv6 grouped by `ipv6Subnet`, IPv4-mapped
 * IPv6 as IPv4, behind Express's `trust proxy`); `'key'` (the API key sent in
 * `Authorization: Bearer x402_…` or `X-API-Key`); `'token'` (the credit token); `'payer'`
 * (the wallet whose signature the payment carries, checked before it counts; a request
 * without one counts by IP); or a function of the request (`undefined`: counted by IP).
 */
export type RateLimitBy =
  | 'ip'
  | 'key'
  | 'token'
  | 'payer'
  | ((req: AnyRequest) => string | undefined | Promise<string | undefined>)

/**
 * A rate limit: `{ maxRequests, windowMs }` (a sliding window by default), or a token
 * bucket. Decided before any payment is verified, credit held or handler run: a limited
 * caller gets 429 `rate_limited` and is never charged.
 *
 * @example
 * x402Middleware({ price: 0.01, rateLimit: { maxRequests: 100, windowMs: 60000, message: 'Too many requests, please slow down' } })
 */
export type RateLimitOptions = {
  /** Requests (units) allowed per window. */
  maxRequests?: number
  /** @default 60000 (a minute) */
  windowMs?: number
  /** The message of the 429's JSON body. @default "too many requests: retry after N s" */
  message?: string
  /** @default 'sliding-window' */
  algorithm?: 'sliding-window' | 'fixed-window' | 'token-bucket'
  /** Token bucket: the most tokens it holds (the burst). */
  capacity?: number
  /** Token bucket: tokens added per second. */
  refillPerSecond?: number
  /** Units one request uses (a whole number ≥ 1). @default () => 1 */
  cost?: (req: AnyRequest) => number | Promise<number>
  /** @default 'ip' */
  by?: RateLimitBy
  /** The IPv6 prefix length one caller is counted by; `false`: every address alone. @default 64 */
  ipv6Subnet?: number | false
  /**
   * Whether refused requests (400, 401, 402 without payment, 429, a failed payment) use up
   * the limit too. @default false
   */
  countRejected?: boolean
  /**
   * When the store cannot answer (Redis down): `'fail-closed'` answers 503
   * `store_unavailable`; `'fail-open'` serves unlimited until it is back (logged once per
   * outage). @default 'fail-closed' on a priced route, 'fail-open' on `rateLimit()` alone
   */
  onStoreError?: 'fail-closed' | 'fail-open'
  /**
   * Where the counts live, shared by every limit with the same `prefix`: a store object, or
   * a `redis://` URL. @default `X402_REDIS_URL` when set, else in this process
   */
  store?: RateLimitStore | string
  /**
   * Names the counts in the store: two limits with the same prefix and policy share them
   * (across processes on Redis). @default the route and the policy, e.g. "GET /api:100-in-1min"
   */
  prefix?: string
  /** The policy's name in the `RateLimit` headers. @default e.g. "100-in-1min" */
  name?: string
  /** The header an API key is read from besides `Authorization: Bearer x402_…`. @default 'x-api-key' */
  keyHeader?: string
}
