import type { MiddlewareHandler } from 'hono'
import { failedMidway } from '../node/captureResponse.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { faultResponse } from '../paywall/responses.js'
import type { PaywallOptions } from '../paywall/types.js'
import { webRequestInfo } from '../paywall/webRequestInfo.js'

/**
 * Hono middleware that charges for the routes it guards. The handler's response is read in
 * full before the payment settles; an error or a status ≥ 400 is charged nothing.
 *
 * @example
 * import { x402Middleware } from '402x-api/hono'
 * app.use('/api/generate', x402Middleware({ price: 0.01 }))
 */
export function x402Middleware(options: PaywallOptions): MiddlewareHandler & { paywall: Paywall } {
  const paywall = createPaywall(options)
  const middleware: MiddlewareHandler = async (c, next) => {
    const route = paywall.match(c.req.method, new URL(c.req.url).pathname)
    if (route === undefined) return next()
    // On @hono/node-server the socket is at `c.env.incoming`; other runtimes give no address.
    const ip = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
      ?.remoteAddress
    let req: unknown
    if (route?.needsRequest) {
      try {
        req = await webRequestInfo(c.req.raw, route, { ip, ...honoParams(c.req.param()) })
      } catch (error) {
        return faultResponse(error)
      }
    }
    const decision = await paywall.handle(c.req.raw, route ?? undefined, { req, ip })
    if (decision.type === 'respond') return decision.response
    if (decision.type === 'skip') return next()
    await next()
    const answer = c.res
    let buffered: Response
    try {
      buffered = new Response(answer.body ? await answer.arrayBuffer() : null, answer)
    } catch {
      // The body failed midway (a stream that errored): nothing of it goes out, nothing is charged.
      buffered = failedMidway()
    }
    const final = await decision.finish(buffered)
    // Clear first: Hono merges the previous response's headers into a new one otherwise.
    c.res = undefined
    c.res = final
    return undefined
  }
  return Object.assign(middleware, { paywall })
}

/** Hono's own route parameters when it has them (a route-level middleware), else ours. */
const honoParams = (params: Record<string, string>) => (Object.keys(params).length ? { params } : {})
