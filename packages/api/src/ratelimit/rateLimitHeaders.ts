import { createHash } from 'node:crypto'
import type { ResolvedLimit } from './resolveRateLimit.js'
import type { RateDecision } from './types.js'

/** One limit's decision for one caller, as the headers show it. */
export type ShownLimit = { limit: ResolvedLimit; decision: RateDecision; partitionKey: string }

/**
 * The IETF `RateLimit-Policy` and `RateLimit` structured-field headers
 * (draft-ietf-httpapi-ratelimit-headers-08, as express-rate-limit's `draft-8` mode writes
 * them): one list member per limit, e.g.
 * `RateLimit-Policy: "100-in-1min"; q=100; w=60; pk=:ZTNiMGM0NDI5OGZj:` and
 * `RateLimit: "100-in-1min"; r=99; t=60; pk=:ZTNiMGM0NDI5OGZj:`. The partition key is the
 * first 12 hex characters of the caller's id's sha256, base64-encoded: the caller can tell
 * its counts apart, nobody learns the id.
 */
export function rateLimitHeaders(shown: readonly ShownLimit[]): [string, string][] {
  if (shown.length === 0) return []
  const policies: string[] = []
  const states: string[] = []
  for (const { limit, decision, partitionKey } of shown) {
    const pk = `pk=:${Buffer.from(createHash('sha256').update(partitionKey).digest('hex').slice(0, 12)).toString('base64')}:`
    policies.push(`"${limit.name}"; q=${decision.limit}; w=${limit.windowSeconds}; ${pk}`)
    states.push(`"${limit.name}"; r=${decision.remaining}; t=${decision.resetSeconds}; ${pk}`)
  }
  return [
    ['ratelimit-policy', policies.join(', ')],
    ['ratelimit', states.join(', ')],
  ]
}
