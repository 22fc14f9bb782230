import { isDiscoveryRoute, serveDiscovery } from '../../discovery/serveDiscovery.js'
import { isValidHost } from '../../paywall/host.js'
import { errorResponse } from '../../paywall/responses.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'

/**
 * Route: answers what is not a paid request (a path refused by `matchRequest`, discovery
 * documents, an invalid Host, CORS preflights) and hands on the rest. Reads `route`,
 * `request`; sets nothing. Never charges: nothing is priced yet.
 */
export const route: Stage = (ctx, next) => {
  const { route, request } = ctx
  if (route.refusal) return Promise.resolve(respond(errorResponse(400, route.refusal.reason, route.refusal.message)))
  if (isDiscoveryRoute(route)) return Promise.resolve(respond(serveDiscovery(ctx.rt.config, route, ctx.origin)))
  // The Web adapters' runtime built the URL; a Host header it carries must still be one.
  if (!isValidHost(request.headers.get('host')))
    return Promise.resolve(respond(errorResponse(400, 'invalid_request', 'the Host header is not a valid host[:port]')))
  if (request.method === 'OPTIONS') {
    // Never charged, and never served: the handler of a priced route does not run for it.
    // A CORS middleware placed before 402x answers preflights with its own headers.
    const method = route.pattern?.method
    const allow = method && method !== '*' ? `${method}${method === 'GET' ? ', HEAD' : ''}, OPTIONS` : undefined
    return Promise.resolve(respond(new Response(null, { status: 204, headers: allow ? { allow } : {} })))
  }
  return next()
}
