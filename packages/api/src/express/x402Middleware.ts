import type { ServerResponse } from 'node:http'
import { type Next, type NodeRequest, nodeMiddleware } from '../node/nodeMiddleware.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

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
  return Object.assign(nodeMiddleware(paywall), { paywall })
}
