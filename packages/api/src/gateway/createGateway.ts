import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { nodeMiddleware } from '../node/nodeMiddleware.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { errorResponse } from '../paywall/responses.js'
import type { PaywallOptions } from '../paywall/types.js'
import { type DecisionServiceOptions, decisionService } from './decisionService.js'

export type GatewayOptions = PaywallOptions & {
  /** The decision service's settings: its token, how long a ticket lasts. */
  decisions?: DecisionServiceOptions
}

export type Gateway = {
  /** The Node request listener: `http.createServer(gateway.listener)`. */
  listener: (req: IncomingMessage, res: ServerResponse) => void
  paywall: Paywall
  /** Decisions waiting for `finish`. */
  readonly openTickets: number
  /** Releases open tickets and closes the paywall's stores. */
  close(): Promise<void>
}

/**
 * `402x gateway` as a library: the decision service (docs/decision-service.md) with the
 * paywall's own paths (`/__402x/credits`, discovery, the admin API) and no upstream. Any
 * other path is 404.
 *
 * @example
 * const gateway = createGateway({ routes: {} })
 * http.createServer(gateway.listener).listen(4023)
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { decisions, ...paywallOptions } = options
  checkPaywallOptions(paywallOptions as PaywallOptions, 'createGateway()')
  const paywall = createPaywall(paywallOptions as PaywallOptions)
  const service = decisionService(paywall, decisions)
  const guard = nodeMiddleware(paywall)
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (service.handle(req, res)) return
    guard(req, res, (error) => {
      if (res.headersSent) return void res.end()
      const path = (req.url ?? '/').split('?')[0]?.slice(0, 200)
      const response = error
        ? errorResponse(500, 'internal_error', 'the gateway failed on this request; nothing was charged')
        : errorResponse(
            404,
            'not_found',
            `the gateway serves the decision service (POST /__402x/decide) and /__402x/credits, not ${req.method} ${path}`,
          )
      res.writeHead(response.status, Object.fromEntries(response.headers))
      void response.text().then((text) => res.end(text))
    })
  }
  return {
    listener,
    paywall,
    get openTickets() {
      return service.open
    },
    async close() {
      await service.close()
      await paywall.close()
    },
  }
}
