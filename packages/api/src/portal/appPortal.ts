import { appPaywalls } from '../paywall/appPaywalls.js'
import { defaultApiTitle, type ResolvedPaywall } from '../paywall/resolvePaywall.js'
import type { PaywallRuntime } from '../pipeline/runtime.js'

/**
 * Whose portal a paywall answers with: the first paywall of its app (appPaywalls.ts) that
 * has API keys and a portal (key sign-in, self-service keys, their plans), else its own. So
 * the portal is the same whichever paywall of the app is mounted first, and its sessions are
 * signed by one secret.
 *
 * @example
 * const home = portalHome(rt)
 */
export function portalHome(rt: PaywallRuntime): PaywallRuntime {
  return appPaywalls(rt).find((r) => r.portal && r.adminKeys) ?? rt
}

/**
 * The paywalls whose priced routes the portal lists: every one of the app, the first whose
 * discovery names the API (a title, or the seller's own OpenAPI document) first, as it
 * gives the document its title.
 */
export function pricedPaywalls(rt: PaywallRuntime): { config: ResolvedPaywall }[] {
  const all = appPaywalls(rt).map((r) => r.config)
  const names = (c: ResolvedPaywall) =>
    Boolean(c.discovery && (c.discovery.openapi || c.discovery.title !== defaultApiTitle))
  const first = all.find(names) ?? rt.config
  return [first, ...all.filter((c) => c !== first)].map((config) => ({ config }))
}
