import type { ResolvedRoute } from '../paywall/resolvePaywall.js'

/** Where the developer portal lives: this path and every path under it. */
export const portalPath = '/__402x/portal'

/**
 * Marks the developer portal in `match`: public, never priced, never charged.
 * `needsRequest`: the Node adapters read the JSON body into `req.body` before the core sees it.
 * `internal`: 402x's own page, not the seller's API, so never told as `request` events (the
 * priced calls it makes, try-it and top-ups, are told on their own routes).
 */
export const portalRoute = Object.freeze({
  usesPayer: false,
  needsRequest: true,
  description: 'developer portal: priced routes, try-it, sign-in, usage, credit and keys',
  mimeType: 'text/html',
  maxTimeoutSeconds: 0,
  internal: true,
}) as ResolvedRoute
