import type { MiddlewareHandler } from 'hono'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { looksThrough } from '../paywall/looksThrough.js'
import { serveDecision } from '../paywall/serveDecision.js'
import type { PaywallOptions } from '../paywall/types.js'
import { noHonoRoute } from './noHonoRoute.js'

/**
 * Hono middleware that charges for the routes it guards. The handler's response is read in
 * full before the payment settles; an error or a status ≥ 400 is charged nothing.
 *
 * @example
 * import { x402Middleware } from '402x-api/hono'
 * app.use('/api/generate', x402Middleware({ price: 0.01 }))
 */
export function x402Middleware(options: PaywallOptions): MiddlewareHandler & { paywall: Paywall } {
  checkPaywallOptions(options, 'x402Middleware() (Hono)')
  const paywall = createPaywall(options)
  const middleware: MiddlewareHandler = async (c, next) => {
    const route = paywall.match(c.req.method, new URL(c.req.url).pathname)
    if (route === undefined) return next()
    // On @hono/node-server the socket is at `c.env.incoming`; other runtimes give no address.
    const ip = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
      ?.remoteAddress
    return serveDecision(
      paywall,
      c.req.raw,
      route ?? undefined,
      { ip, ...honoParams(c.req.param()) },
      {
        run: async () => {
          await next()
          return c.res
        },
        pass: next,
        caller: (caller) => c.set('x402' as never, caller as never),
        stamp: (pairs) => {
          for (const [name, value] of pairs) c.header(name, value)
        },
        // A 402 for a method and path no handler serves is a 404 (see noHonoRoute).
        unserved: () => noHonoRoute(c),
        served: (final) => {
          // Clear first: Hono merges the previous response's headers into a new one otherwise.
          c.res = undefined
          c.res = final
          return undefined
        },
      },
    )
  }
  return Object.assign(middleware, { paywall, [looksThrough]: true })
}

/** Hono's own route parameters when it has them (a route-level middleware); else the core uses the table's. */
const honoParams = (params: Record<string, string>) => (Object.keys(params).length ? { params } : {})
