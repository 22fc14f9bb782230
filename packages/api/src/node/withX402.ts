import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { refusalBody } from '../paywall/responses.js'
import type { PaywallOptions } from '../paywall/types.js'
import { nodeMiddleware } from './nodeMiddleware.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown

const fail = (res: ServerResponse, error: unknown): void => {
  if (res.headersSent) {
    res.destroy(error as Error)
    return
  }
  res.writeHead(500, { 'content-type': 'application/json' })
  res.end(JSON.stringify(refusalBody('internal_error', 'the handler failed; nothing was charged')))
}

/**
 * Guards a plain Node `http` handler: `http.createServer(withX402({ price: 0.01 }, handler))`.
 * A handler that throws answers 500 and is charged nothing.
 *
 * @example
 * import { withX402 } from '402x-api/node'
 * http.createServer(withX402({ price: 0.01 }, (req, res) => res.end('paid content'))).listen(3000)
 */
export function withX402(options: PaywallOptions, handler: Handler): Handler & { paywall: Paywall } {
  checkPaywallOptions(options, 'withX402() (Node)')
  const paywall = createPaywall(options)
  const guard = nodeMiddleware(paywall)
  const listener = (req: IncomingMessage, res: ServerResponse) =>
    guard(req, res, (error) => {
      if (error) {
        fail(res, error)
        return
      }
      try {
        Promise.resolve(handler(req, res)).catch((e: unknown) => fail(res, e))
      } catch (e) {
        fail(res, e)
      }
    })
  return Object.assign(listener, { paywall })
}
