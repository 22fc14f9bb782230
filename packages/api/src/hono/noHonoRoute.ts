import type { Context } from 'hono'
import { looksThrough } from '../paywall/looksThrough.js'

/**
 * Whether nothing but paywalls matched this method and path in Hono's router, so that Hono
 * would answer 404: then a 402 would ask for a payment nothing can use. `false` whenever it
 * cannot tell (an older Hono without `matchedRoutes`, or any other handler or middleware
 * matched, which might answer the request).
 */
export function noHonoRoute(c: Context): boolean {
  try {
    const matched = (c.req as { matchedRoutes?: { handler: unknown }[] }).matchedRoutes
    if (!Array.isArray(matched) || matched.length === 0) return false
    return matched.every((route) => typeof route.handler === 'function' && looksThrough in route.handler)
  } catch {
    return false
  }
}
