import type { IncomingMessage, ServerResponse } from 'node:http'
import { headers } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { receiptHeaders } from '../paywall/credits.js'
import { PaymentRequiredError } from '../paywall/paymentRequiredError.js'
import { errorResponse, handlerFailed } from '../paywall/responses.js'
import { withRouteParams } from '../paywall/routes.js'
import { captureResponse, heldWriteHead, sendWebResponse } from './captureResponse.js'
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
    const fast = paywall.creditFastPath
    if (route && fast?.eligible(route)) {
      const token = creditToken(req)
      if (token) return serveFromCredit(paywall, fast, route, token, req, res, next, path).catch(next)
    }
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

/** `Authorization: Bearer x402c_…` on a request that carries no payment, else `undefined`. */
function creditToken(req: NodeRequest): string | undefined {
  const auth = req.headers.authorization
  if (!auth || req.method === 'HEAD' || req.method === 'OPTIONS') return undefined
  if (req.headers['payment-signature'] || req.headers['x-payment']) return undefined
  const match = /^Bearer\s+(x402c_\S+)\s*$/i.exec(auth)
  return match?.[1]
}

/**
 * A request paid from credit at a price known up front, without Web objects: hold the
 * price (in memory), let the handler run, and hold back only its `end()` (and any `write()`
 * before it) until the charge is written; then send it with its receipt. Anything else
 * (an unknown token, too little credit) takes the full path.
 */
async function serveFromCredit(
  paywall: Paywall,
  fast: NonNullable<Paywall['creditFastPath']>,
  route: NonNullable<ReturnType<Paywall['match']>>,
  token: string,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
) {
  const drawn = fast.draw(route, token)
  const draw = drawn instanceof Promise ? await drawn : drawn
  if (!draw) return run(paywall, req, res, next, path, route)
  if (res.destroyed || req.socket?.destroyed) return draw.drop()
  const { write, end, writeHead } = res
  /** `write()` calls before `end()`: sent after the charge (a streamed body is buffered). */
  let early: [unknown, unknown][] | undefined
  let bodyStatus: number | undefined
  let ended = false
  let sent = false
  // One listener: the caller left before the handler ended (release), or after the charge
  // while the answer was going out (the charge goes back).
  res.once('close', () => {
    if (!ended) {
      ended = true
      draw.drop()
    } else if (sent && !res.writableFinished) void draw.undelivered()
  })
  res.writeHead = heldWriteHead(res)
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    // After end(): nothing more goes out (Node would refuse it too).
    if (ended) return false
    bodyStatus ??= res.statusCode
    early ??= []
    early.push([chunk, typeof encoding === 'function' ? undefined : encoding])
    const done = typeof encoding === 'function' ? encoding : cb
    if (typeof done === 'function') queueMicrotask(done as () => void)
    return true
  }) as ServerResponse['write']
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    // A second end() is ignored: the overrides stay until the paid answer goes out.
    if (ended) return res
    ended = true
    void send(chunk, encoding, cb).catch(next)
    return res
  }) as ServerResponse['end']
  const restore = () => {
    res.write = write
    res.end = end
    res.writeHead = writeHead
  }

  const send = async (chunk: unknown, encoding: unknown, cb: unknown) => {
    const status = res.statusCode
    if (bodyStatus !== undefined && bodyStatus < 400 && status >= 400) {
      // Part of a paid body was written before the failure: none of it goes out unpaid.
      draw.drop()
      restore()
      return sendWebResponse(res, handlerFailed(status, true))
    }
    const receipt = await draw.finish(status, () => `http://${req.headers.host ?? 'localhost'}${path.split('?')[0]}`)
    restore()
    if (typeof receipt !== 'string') return sendWebResponse(res, receipt)
    if (res.destroyed) return draw.undelivered()
    for (const [name, value] of receiptHeaders(receipt)) res.setHeader(name, value)
    sent = true
    if (early) for (const [c, e] of early) (write as (c: unknown, e?: unknown) => boolean).call(res, c, e)
    ;(end as (c?: unknown, e?: unknown, cb?: unknown) => ServerResponse).call(res, chunk, encoding, cb)
  }
  next()
}
