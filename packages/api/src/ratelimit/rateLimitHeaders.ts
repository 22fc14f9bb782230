import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { RateDecision, RatePolicy } from './types.js'

// The `RateLimit` and `RateLimit-Policy` fields of draft-ietf-httpapi-ratelimit-headers-08,
// written as express-rate-limit 8.6.2 writes them with `standardHeaders: 'draft-8'`
// (source/headers.ts, `setDraft8Headers` and `getPartitionKey`; the default name is the
// `identifier` of source/rate-limit.ts): `pk` goes on the policy only, `w` is the window in
// whole seconds (rounded up), and several policies are members of one list per field.

/** One limit a request was held to, for the headers. */
export type RateLimitHeaderEntry = {
  policy: RatePolicy
  /** What the store decided for this request. */
  decision: RateDecision
  /** Who is limited (an IP, a payer, a key): only a hash of it is sent, as `pk`. */
  key: string
  /**
   * The policy's name in both fields.
   * @default `<limit>-in-<window>`, as express-rate-limit names it: `100-in-1min`
   */
  name?: string
}

/** The two fields; absent for an empty list. */
export type RateLimitHeaders = { 'RateLimit-Policy'?: string; RateLimit?: string }

/** The policy's window in seconds: a bucket's is the time it takes to refill from empty. */
const windowSeconds = (policy: RatePolicy) =>
  policy.algorithm === 'token-bucket'
    ? Math.ceil(policy.capacity / policy.refillPerSecond)
    : Math.ceil(policy.windowMs / 1000)

/**
 * The name express-rate-limit gives a policy: `100-in-1min`, `5-in-30sec`, `1000-in-1day`.
 *
 * @example
 * rateLimitPolicyName({ algorithm: 'sliding-window', limit: 100, windowMs: 60_000 }) // '100-in-1min'
 */
export function rateLimitPolicyName(policy: RatePolicy): string {
  const limit = policy.algorithm === 'token-bucket' ? policy.capacity : policy.limit
  const windowMs = policy.algorithm === 'token-bucket' ? windowSeconds(policy) * 1000 : policy.windowMs
  const seconds = windowMs / 1000
  const minutes = seconds / 60
  const hours = minutes / 60
  const days = hours / 24
  let duration: string
  if (seconds < 60) duration = `${seconds}sec`
  else if (minutes < 60) duration = `${minutes}min`
  else if (hours < 24) duration = `${hours}hr${hours > 1 ? 's' : ''}`
  else duration = `${days}day${days > 1 ? 's' : ''}`
  return `${limit}-in-${duration}`
}

/** express-rate-limit's: the first 12 hex digits of the key's SHA-256, in base64 (16 characters). */
const partitionKey = (key: string) =>
  Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64')

/** An sf-string (RFC 8941): a custom name may hold quotes or backslashes; the default never does. */
const quoted = (name: string) => `"${name.replace(/[\\"]/g, '\\$&')}"`

/**
 * The `RateLimit-Policy` and `RateLimit` fields for the limits a request was held to (a plan
 * can have several): one list member per limit, in order.
 *
 * @example
 * const policy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 } as const
 * const decision = await store.consume('1.2.3.4', 1, policy)
 * rateLimitHeaders([{ policy, decision, key: '1.2.3.4' }])
 * // { 'RateLimit-Policy': '"100-in-1min"; q=100; w=60; pk=:NjY5NGY4M2M5ZjQ3:',
 * //   RateLimit: '"100-in-1min"; r=99; t=60' }
 */
export function rateLimitHeaders(entries: readonly RateLimitHeaderEntry[]): RateLimitHeaders {
  if (entries.length === 0) return {}
  const policies: string[] = []
  const states: string[] = []
  for (const { policy, decision, key, name } of entries) {
    const member = rateLimitMember(policy, key, name, decision.limit)
    policies.push(member.policy)
    states.push(rateLimitState(member.label, decision))
  }
  return { 'RateLimit-Policy': policies.join(', '), RateLimit: states.join(', ') }
}

/**
 * What one limit's member of the fields keeps for one caller from request to request: its
 * label, and its whole `RateLimit-Policy` member (`limit` is the policy's allowance), so that
 * a caller seen again costs no hash of its key.
 */
export function rateLimitMember(
  policy: RatePolicy,
  key: string,
  name: string | undefined,
  limit: number,
): { label: string; policy: string } {
  const label = quoted(name ?? rateLimitPolicyName(policy))
  return { label, policy: `${label}; q=${limit}; w=${windowSeconds(policy)}; pk=:${partitionKey(key)}:` }
}

/** One limit's member of the `RateLimit` field after a decision. */
export const rateLimitState = (label: string, decision: RateDecision): string =>
  `${label}; r=${decision.remaining}; t=${Math.max(0, decision.resetSeconds)}`
