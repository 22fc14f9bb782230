/** What counted a caller by IP without an address: a limit (one shared count) or a free tier (none free). */
export type NoAddress = (counted: 'limit' | 'free', resource: string) => void

/**
 * A one-time warning for one owner (a paywall, a standalone `rateLimit()`): a limit or free
 * tier counts callers by IP, and the adapter found no address for a request. Such requests
 * still count (a limit shares one count, `ip:unknown`, rather than letting every caller
 * through; a free tier gives none), but the seller learns it once, with the fix.
 *
 * @example
 * const noAddress = noAddressWarning()
 * noAddress('limit', 'GET /api/search') // warns; later calls do nothing
 */
export function noAddressWarning(): NoAddress {
  let warned = false
  return (counted, resource) => {
    if (warned) return
    warned = true
    const effect =
      counted === 'limit'
        ? 'every request without one shares one count (`ip:unknown`): one caller can use up the limit for all'
        : 'requests without one get no free requests'
    console.warn(
      `402x: ${resource}: a ${counted === 'limit' ? 'rate limit' : 'free tier'} counts callers by IP, but the adapter found no caller address: ${effect}. Give the adapter the address (\`ip: (request) => address\` on the fetch and Next.js adapters, \`trustedHops\` on Next.js), or count with \`by\` ('key', 'payer' or a function of the request). See docs/rate-limits.md, "Who is counted" (logged once)`,
    )
  }
}
