import { headers } from '@402x/core'
import { type NextRequest, NextResponse } from 'next/server.js'
import { presentedKey } from '../keys/presentedKey.js'
import { creditsPath, parseCreditToken } from '../paywall/credits.js'
import { withAnyMethodNote } from './anyMethodNote.js'
import { type NextPaywallOptions, nextPaywall } from './nextPaywall.js'

/**
 * Next.js middleware (`proxy.ts` in Next 16, `middleware.ts` with `runtime: 'nodejs'` in
 * Next 15.5+) that answers what needs no chain work before any route runs: the 402 challenge
 * to an unpaid request, a path that cannot be decoded, a paid HEAD. It never verifies or
 * settles: middleware cannot see the route's response, and settling there would charge for
 * responses that fail or never come (the official `x402-next` proxy settles on the
 * placeholder of `NextResponse.next()`).
 *
 * A request that carries a payment goes through untouched, with nothing added that the
 * handler would trust, to a route handler wrapped with {@link withX402}, which verifies,
 * runs the handler and settles. That wrapper is the lock, this is a front door: every route
 * priced here must have its handler wrapped (with the same table, or `{ price }`), or a
 * request with any payment header would reach it unpaid. Routes with a free tier go through
 * untouched as well, so each request is counted once, by the handler.
 *
 * Needs the Node.js runtime (the ledger is SQLite); Next's Edge runtime cannot load it.
 *
 * @example
 * // proxy.ts (Next 16)
 * import { x402NextMiddleware } from '402x-api/next'
 * import { paywall } from './paywall' // { routes: { 'POST /api/generate': 0.01 } }
 * export const proxy = x402NextMiddleware(paywall)
 * export const config = { matcher: '/api/:path*' }
 */
export function x402NextMiddleware(options: NextPaywallOptions): (request: NextRequest) => Promise<Response> {
  const paywall = nextPaywall(options)
  return async (request) => {
    const route = paywall().match(request.method, new URL(request.url).pathname)
    if (route === undefined) return NextResponse.next()
    // Credit is bought here: no route handler stands behind /__402x/credits.
    if (route && new URL(request.url).pathname === creditsPath) {
      const decision = await paywall().handle(request, route, { ip: paywall.ipOf(request) })
      if (decision.type === 'respond') return decision.response
      if (decision.type === 'proceed') await decision.abort('not a route')
      return NextResponse.next()
    }
    // A payment, a credit token, or (where keys are set) an API key: the handler decides, once.
    const paying =
      request.headers.has(headers.paymentSignature) ||
      request.headers.has(headers.v1Payment) ||
      parseCreditToken(request.headers.get('authorization')) !== undefined ||
      (paywall().config.keys !== undefined &&
        presentedKey(request.headers, paywall().config.keys?.header) !== undefined)
    if (route && ((paying && request.method !== 'HEAD') || route.free)) return NextResponse.next()
    const decision = await paywall().handle(request, route ?? undefined, { ip: paywall.ipOf(request) })
    if (decision.type === 'respond')
      return route ? withAnyMethodNote(decision.response, route, request.method) : decision.response
    // Not expected without a payment; the handler decides again, so hold nothing here.
    if (decision.type === 'proceed') await decision.abort('decided again by the route handler')
    return NextResponse.next()
  }
}
