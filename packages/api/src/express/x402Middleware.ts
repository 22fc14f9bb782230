import type { IncomingMessage, ServerResponse } from 'node:http'
import { captureResponse, sendWebResponse } from '../node/captureResponse.js'
import { toWebRequest } from '../node/nodeRequest.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

type ExpressRequest = IncomingMessage & { originalUrl?: string }
type Next = (error?: unknown) => void

export type X402Middleware = ((req: ExpressRequest, res: ServerResponse, next: Next) => void) & {
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
  const middleware = (req: ExpressRequest, res: ServerResponse, next: Next) => {
    const path = req.originalUrl ?? req.url ?? '/'
    const route = paywall.match(req.method ?? 'GET', path)
    if (route === undefined) return next()
    run(paywall, req, res, next, path, route).catch(next)
  }
  return Object.assign(middleware, { paywall })
}

async function run(
  paywall: Paywall,
  req: ExpressRequest,
  res: ServerResponse,
  next: Next,
  path: string,
  route: ReturnType<Paywall['match']>,
) {
  const decision = await paywall.handle(toWebRequest(req, path), route ?? undefined)
  if (decision.type === 'skip') return next()
  const head = req.method === 'HEAD'
  if (decision.type === 'respond') return sendWebResponse(res, decision.response, head)
  const capture = captureResponse(res)
  let finished = false
  // The caller went away before the handler answered: charge nothing.
  res.once('close', () => {
    if (!finished) {
      finished = true
      capture.restore()
      void decision.abort('the client closed the connection before the response')
    }
  })
  next()
  const response = await capture.done
  if (finished) return
  finished = true
  capture.restore()
  const final = await decision.finish(response)
  await sendWebResponse(res, final, head)
}
