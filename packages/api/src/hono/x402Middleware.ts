import type { MiddlewareHandler } from 'hono'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

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
    const decision = await paywall.handle(c.req.raw, route ?? undefined)
    if (decision.type === 'respond') return decision.response
    if (decision.type === 'skip') return next()
    await next()
    const answer = c.res
    const buffered = new Response(answer.body ? await answer.arrayBuffer() : null, answer)
    const final = await decision.finish(buffered)
    // Clear first: Hono merges the previous response's headers into a new one otherwise.
    c.res = undefined
    c.res = final
    return undefined
  }
  return Object.assign(middleware, { paywall })
}
