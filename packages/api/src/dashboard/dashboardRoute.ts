import type { ResolvedRoute } from '../paywall/resolvePaywall.js'

/** Where the dashboard lives: this path and every path under it. */
export const dashboardPath = '/__402x/dashboard'

/**
 * Marks the dashboard in `match`: never priced, charged or rate limited. `needsRequest`:
 * the sign-in form's JSON body is read into `req.body` by the Node adapters.
 */
export const dashboardRoute = Object.freeze({
  usesPayer: false,
  needsRequest: true,
  description: 'the seller dashboard (sign in with the admin token)',
  mimeType: 'text/html',
  maxTimeoutSeconds: 0,
  internal: true,
}) as ResolvedRoute
