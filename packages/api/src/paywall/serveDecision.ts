import { serveWeb } from './bufferResponse.js'
import { rememberCaller, stripTracking, type X402Caller } from './callerView.js'
import type { HandleContext, Paywall } from './createPaywall.js'
import { creditsPath } from './credits.js'
import type { ResolvedRoute } from './resolvePaywall.js'
import { noRoute, withHeaders } from './responses.js'
import { normalizePath } from './routes.js'

/** How a Web adapter applies a decision: its handler, and what it does for a free request. */
export type ServeDecision<P, S> = {
  /** Runs the framework's handler (after which the payment settles or is released). */
  run: () => Response | Promise<Response>
  /** The request is free this time (`skip`): hand it on. */
  pass: () => P | Promise<P>
  /** Hands the handler who called (Hono: `c.set('x402', caller)`). */
  caller?: (caller: X402Caller) => void
  /** Sets headers on the answer `pass` led to, when it returned no `Response` (Hono). */
  stamp?: (headers: [string, string][]) => void
  /** What the adapter does with the answer to a served request; by default it returns it. */
  served?: (response: Response) => S
  /**
   * Whether nothing but paywalls serves this method and path (the framework would answer
   * 404): asked only before a 402 challenge of a priced route, which is then a 404 here.
   */
  unserved?: () => boolean
}

/**
 * The Web adapters' one orchestration (Hono, fetch, Next.js): the core decides, then the
 * decision is applied: `respond` answers, `skip` hands on, `proceed` runs the handler and
 * settles (serveWeb). The match before it stays the adapter's: it is its cheap free path.
 */
export async function serveDecision<P, S = Response>(
  paywall: Paywall,
  request: Request,
  route: ResolvedRoute | undefined,
  context: HandleContext | undefined,
  how: ServeDecision<P, S>,
): Promise<Response | P | S> {
  const decision = await paywall.handle(request, route, context)
  if (decision.type === 'respond') {
    if (decision.paymentRequired && decision.response.status === 402 && how.unserved) {
      const path = new URL(request.url).pathname
      if (normalizePath(path) !== creditsPath && how.unserved()) return noRoute(request.method, path)
    }
    return decision.response
  }
  if (decision.type === 'skip') {
    const passed = await how.pass()
    if (!decision.headers) return passed
    if (passed instanceof Response) return withHeaders(passed, decision.headers)
    how.stamp?.(decision.headers)
    return passed
  }
  stripTracking(request.headers)
  if (decision.caller) {
    rememberCaller(request, decision.caller)
    how.caller?.(decision.caller)
  }
  const final = await serveWeb(decision, how.run)
  return how.served ? how.served(final) : final
}
