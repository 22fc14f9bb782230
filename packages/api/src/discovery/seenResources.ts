import type { ResolvedPaywall } from '../paywall/resolvePaywall.js'

/** A resource of a paywall without a route table, known because a request reached it. */
export type SeenResource = {
  path: string
  /** Upper-case; `undefined` when the request's method was not known. */
  method: string | undefined
  /**
   * The framework's route it was reached by (`/api/market/:symbol`, frameworkRoute.ts), when
   * it names one: then it is one resource for every path that route matches.
   */
  pattern?: string | undefined
}

/**
 * How many resources are remembered per paywall. Any path below the mount point is charged,
 * so callers choose them: the first ones are kept and the rest are not listed.
 */
export const maxSeen = 100

const seen = new WeakMap<ResolvedPaywall, Map<string, SeenResource>>()

/**
 * Remembers a resource of a paywall that guards everything it is mounted on: its path is not
 * in the configuration (`app.use('/api/generate', x402Middleware({ price }))` tells the
 * middleware nothing about `/api/generate`), so the discovery documents list it once a
 * request has reached it.
 */
export function rememberResource(paywall: ResolvedPaywall, resource: SeenResource): void {
  let known = seen.get(paywall)
  if (!known) {
    known = new Map()
    seen.set(paywall, known)
  }
  const key = `${resource.method ?? '*'} ${resource.pattern ?? resource.path}`
  if (!known.has(key) && known.size < maxSeen) known.set(key, resource)
}

/** The resources remembered for a paywall, in the order they were first requested. */
export function seenResources(paywall: ResolvedPaywall): SeenResource[] {
  return [...(seen.get(paywall)?.values() ?? [])]
}
