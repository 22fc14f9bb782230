import type { IncomingMessage, ServerResponse } from 'node:http'
import { headers } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { PaymentRequiredError } from '../paywall/paymentRequiredError.js'
import { errorResponse } from '../paywall/responses.js'
import { withRouteParams } from '../paywall/routes.js'
import { captureResponse, sendWebResponse } from './captureResponse.js'
import { readNodeBody, toWebRequest } from './nodeRequest.js'
import { serveMetered } from './serveMetered.js'

export type NodeRequest = IncomingMessage & { originalUrl?: string | undefined; ip?: string | undefined }
export type Next = (error?: unknown) => void

/**
 * The paywall as Connect-style middleware over Node's request and response, written once
 * for Express, plain Node `http` and other Node frameworks: free routes go straight to
 * `next`, the handler's answer is buffered until the payment settles or is released.
 */
export function nodeMiddleware(paywall: Paywall): (req: NodeRequest, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    const path = req.originalUrl ?? req.url ?? '/'
    const route = paywall.match(req.method ?? 'GET', path)
    if (route === undefined) return next()
    run(paywall, req, res, next, path, route).catch(next)
  }
}

async function run(
  paywall: Paywall,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
  route: ReturnType<Paywall['match']>,
) {
  if (route?.needsRequest) {
    const problem = await readNodeBody(req)
    if (problem) return sendWebResponse(res, problem)
  }
  let request: Request
  try {
    request = toWebRequest(req, path)
  } catch {
    // A Host header that makes no URL: bad input, not a fault.
    return sendWebResponse(res, errorResponse(400, 'invalid_request', 'the Host header or the path is not valid'))
  }
  const decision = await paywall.handle(request, route ?? undefined, {
    req: route?.needsRequest ? withRouteParams(req, route, path) : req,
    ip: req.ip ?? req.socket?.remoteAddress,
  })
  if (decision.type === 'skip') return next()
  const head = req.method === 'HEAD'
  if (decision.type === 'respond') {
    if (decision.paymentRequired && paywall.config.errors === 'next') {
      // The seller renders 402s: hand them the details, with the header clients pay from.
      const { response, paymentRequired } = decision
      for (const name of [headers.paymentRequired, 'access-control-expose-headers', 'cache-control']) {
        const value = response.headers.get(name)
        if (value) res.setHeader(name, value)
      }
      return next(new PaymentRequiredError({ ...paymentRequired, response }))
    }
    return sendWebResponse(res, decision.response, head)
  }
  // The caller may have gone while the payment was verified: then nothing is run or charged.
  if (res.destroyed || req.socket?.destroyed) {
    await decision.abort('the client closed the connection while the payment was verified')
    return
  }
  if (decision.stream) return serveMetered(res, decision, next, head)
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
  if (res.destroyed) {
    await decision.abort('the client closed the connection before the response')
    return
  }
  const final = await decision.finish(response)
  // Paid, but the caller left during settlement: the payment may be served again on a retry.
  if (res.destroyed) return decision.undelivered()
  res.once('close', () => {
    if (!res.writableFinished) void decision.undelivered()
  })
  await sendWebResponse(res, final, head)
}
