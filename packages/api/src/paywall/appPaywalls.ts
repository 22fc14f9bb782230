import type { PaywallRuntime } from '../pipeline/runtime.js'
import type { ResolvedPaywall } from './resolvePaywall.js'

/**
 * The app a paywall belongs to: the ledger it records to. Every paywall of a process on the
 * same ledger is one business (one dashboard, one portal), whichever of them answers a
 * request: an app with a middleware per route has several. `undefined`: an in-memory
 * SQLite ledger, its own app alone.
 */
export function appKey(config: Pick<ResolvedPaywall, 'ledger' | 'ledgerAt'>): unknown {
  const at = config.ledgerAt
  if (!at) return config.ledger
  if ('url' in at) return `url:${at.url}`
  return at.path === ':memory:' ? undefined : `path:${at.path}`
}

/** The paywalls of each app in this process, in the order they were made. */
const apps = new Map<unknown, PaywallRuntime[]>()

/**
 * Adds a paywall to its app (`appKey`), so that the app's portal lists its priced routes
 * whichever paywall answers; returns how to leave it (when the paywall closes).
 *
 * @example
 * const leave = joinApp(rt)
 * appPaywalls(rt) // [every paywall of the app, rt among them]
 */
export function joinApp(rt: PaywallRuntime): () => void {
  const key = appKey(rt.config)
  if (key === undefined) return () => {}
  apps.set(key, [...(apps.get(key) ?? []), rt])
  return () => {
    const left = (apps.get(key) ?? []).filter((m) => m !== rt)
    if (left.length > 0) apps.set(key, left)
    else apps.delete(key)
  }
}

/** Every paywall of `rt`'s app, in the order they were made (`rt` alone when it joined none). */
export function appPaywalls(rt: PaywallRuntime): readonly PaywallRuntime[] {
  const key = appKey(rt.config)
  const members = key === undefined ? undefined : apps.get(key)
  return members?.includes(rt) ? members : [rt]
}
