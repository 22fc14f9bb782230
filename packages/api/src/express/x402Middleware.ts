import type { ServerResponse } from 'node:http'
import { type Next, type NodeRequest, nodeMiddleware } from '../node/nodeMiddleware.js'
import type { X402Caller } from '../paywall/callerView.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { looksThrough } from '../paywall/looksThrough.js'
import type { PaywallOptions } from '../paywall/types.js'
import { noLaterRoute } from './noLaterRoute.js'

declare global {
  // Express's own `Request` gets `req.x402` (who called, how it paid) for TypeScript users.
  namespace Express {
    interface Request {
      /** Who called a paid route and how it is paid (docs/api-keys.md, "Who called"). */
      x402?: X402Caller
    }
  }
}

export type X402Middleware = ((req: NodeRequest, res: ServerResponse, next: Next) => void) & {
  /** The core behind the middleware: settings, events, ledger. */
  paywall: Paywall
}

/**
 * Express middleware that charges for the routes it guards, in USDC over x402. Settings not
 * given come from the environment, `402x.config.json` or a running `402x dev`; a missing
 * one throws here, at start-up.
 *
 * @example
 * app.use('/api/generate', x402Middleware({ price: 0.01 }))
 */
export function x402Middleware(options: PaywallOptions): X402Middleware {
  const paywall = createPaywall(options)
  // A 402 is offered only for a method and path some later route serves: one that Express
  // will answer 404 is passed on unpriced (its paid retry would be a 404, charged nothing).
  const middleware = nodeMiddleware(paywall, { unserved: (req) => noLaterRoute(req, middleware) })
  return Object.assign(middleware, { paywall, [looksThrough]: true })
}

/**
 * Serves `/__402x/credits` (buy credit with `POST ?amount=`, see it with `GET`) for apps
 * that put `x402Middleware` on each route instead of mounting one with a routes table.
 * Every paywall of the process that keeps its credit in the same file shares the balances.
 *
 * @example
 * app.use(x402Credits())
 * app.post('/api/complete', x402Middleware({ pricePerToken: 0.00015 }), handler)
 */
export function x402Credits(options: Omit<PaywallOptions, 'routes' | 'price'> = {}): X402Middleware {
  return x402Middleware({ ...options, routes: {}, discovery: false } as PaywallOptions)
}
