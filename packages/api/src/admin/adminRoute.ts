import type { ResolvedRoute } from '../paywall/resolvePaywall.js'

/** Where the admin API lives: this path and every path under it. */
export const adminPath = '/__402x/admin'

/**
 * Marks the admin API in `match`: never priced, never charged, never rate limited.
 * `needsRequest`: the Node adapters read the JSON body into `req.body` before the core sees it.
 */
export const adminRoute = Object.freeze({
  usesPayer: false,
  needsRequest: true,
  description: 'admin API: keys, plans and usage (Authorization: Bearer <X402_ADMIN_TOKEN>)',
  mimeType: 'application/json',
  maxTimeoutSeconds: 0,
  internal: true,
}) as ResolvedRoute
