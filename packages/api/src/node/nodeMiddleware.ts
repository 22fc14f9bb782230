import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { headers } from '@402x/core'
import { trackingPairs } from '../paywall/callerView.js'
import type { Paywall } from '../paywall/createPaywall.js'
import { creditsPath, receiptHeader, setReceiptHeaders } from '../paywall/credits.js'
import { creditsServedFor, markCreditsServed } from '../paywall/creditsServed.js'
import { isValidHost } from '../paywall/host.js'
import { PaymentRequiredError } from '../paywall/paymentRequiredError.js'
import { errorResponse, handlerFailed, noRoute } from '../paywall/responses.js'
import { normalizePath, withRouteParams } from '../paywall/routes.js'
import type { Proceed, RequestHead } from '../paywall/types.js'
import type { FastDraw } from '../pipeline/creditDraw.js'
import { type CreditFastPath, creditFastPathOf } from '../pipeline/creditFastPath.js'
import { keyFastPathOf } from '../pipeline/keyFastPath.js'
import { startOf, watching } from '../pipeline/requestEvent.js'
import { answerFault } from './answerFault.js'
import { captureRaw, captureResponse, heldWriteHead, sendCaptured, sendWebResponse } from './captureResponse.js'
import { firstHeader, tellFastCredit } from './fastCreditEvent.js'
import {
  creditToken,
  type NodeRequest,
  readNodeBody,
  requestHead,
  schemeOf,
  stripTrackingHeaders,
} from './nodeRequest.js'
import { requestKey, serveFromKey } from './serveFromKey.js'
import { serveMetered } from './serveMetered.js'

export type { NodeRequest }

export type Next = (error?: unknown) => void

/**
 * The paywall as Connect-style middleware over Node's request and response, written once
 * for Express, plain Node `http` and other Node frameworks: free routes go straight to
 * `next`, the handler's answer is buffered until the payment settles or is released.
 */
export type NodeMiddlewareOptions = {
  /**
   * Whether nothing after this middleware serves the request (the framework would answer
   * 404): asked only before a 402 challenge of a priced route, which is then answered 404
   * here. Never `next()`: were the answer wrong, the request would reach a priced handler.
   */
  unserved?: (req: NodeRequest) => boolean
}

export function nodeMiddleware(
  paywall: Paywall,
  options: NodeMiddlewareOptions = {},
): (req: NodeRequest, res: ServerResponse, next: Next) => void {
  const servesCredits = Boolean(paywall.config.credits) && !paywall.config.guardsAll
  const keyed = keyFastPathOf(paywall)
  const keyHeader = paywall.config.keys?.header ?? 'x-api-key'
  return (req, res, next) => {
    if (servesCredits) markCreditsServed(req)
    const path = req.originalUrl ?? req.url ?? '/'
    const route = paywall.match(req.method ?? 'GET', path)
    if (route === undefined) return next()
    stripTrackingHeaders(req)
    const full = () => run(paywall, req, res, next, path, route, options)
    const failed = (error: unknown) => answerFault(paywall, res, next, error)
    // A Host that is not host[:port] takes the full path, which answers 400. A key comes
    // before a credit token, as in the pipeline.
    if (route && keyed?.eligible(route) && isValidHost(req.headers.host)) {
      const key = requestKey(req, keyHeader)
      if (key) return void serveFromKey(paywall, keyed, route, key, req, res, next, path, full)?.catch(failed)
    }
    const fast = creditFastPathOf(paywall)
    if (route && fast?.eligible(route) && isValidHost(req.headers.host)) {
      const token = creditToken(req)
      if (token) return serveFromCredit(paywall, fast, route, token, req, res, next, path).catch(failed)
    }
    full().catch(failed)
  }
}

async function run(
  paywall: Paywall,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
  route: ReturnType<Paywall['match']>,
  options: NodeMiddlewareOptions,
) {
  if (route?.needsRequest) {
    const problem = await readNodeBody(req)
    if (problem) return sendWebResponse(res, problem)
  }
  let request: RequestHead
  try {
    request = requestHead(req, path)
  } catch {
    // A Host header that makes no URL: bad input, not a fault.
    return sendWebResponse(
      res,
      errorResponse(
        400,
        'invalid_request',
        'the Host header is not a valid host[:port], or the path or the method is not valid',
      ),
    )
  }
  const decision = await paywall.handle(request, route ?? undefined, {
    req: route?.needsRequest ? withRouteParams(req, route, path) : req,
    ip: req.ip ?? req.socket?.remoteAddress,
    // A per-route paywall offers a top-up only when a paywall serving it saw this request.
    creditsServed: !paywall.config.guardsAll || creditsServedFor(req),
  })
  if (decision.type === 'skip') {
    for (const [name, value] of decision.headers ?? []) res.setHeader(name, value)
    return next()
  }
  const head = req.method === 'HEAD'
  if (decision.type === 'respond') {
    if (
      decision.paymentRequired &&
      decision.response.status === 402 &&
      options.unserved &&
      normalizePath(path) !== creditsPath &&
      options.unserved(req)
    ) {
      return sendWebResponse(res, noRoute(req.method ?? 'GET', path), head)
    }
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
  if (decision.caller) {
    req.x402 = decision.caller
    if (paywall.config.trackingHeaders)
      for (const [name, value] of trackingPairs(decision.caller)) req.headers[name] = value
  }
  // The caller may have gone while the payment was verified: then nothing is run or charged.
  if (res.destroyed || req.socket?.destroyed) {
    await decision.abort('the client closed the connection while the payment was verified')
    return
  }
  if (decision.stream) return serveMetered(res, decision, next, head)
  if (decision.finishStatus) return serveHeld(paywall, decision, res, next, head)
  const final = await holdAndSettle(paywall, decision, res, next, captureResponse(res), (response) =>
    decision.finish(response),
  )
  if (final) await sendWebResponse(res, final, head)
}

/**
 * A paid request whose answer stays on the Node response while the payment settles: the
 * handler's status and headers are kept on `res` and its body in a buffer; no Web
 * `Response` is built unless the answer is replaced (a 402, a 503).
 */
async function serveHeld(paywall: Paywall, decision: Proceed, res: ServerResponse, next: Next, head: boolean) {
  const finishStatus = decision.finishStatus as NonNullable<Proceed['finishStatus']>
  const settled = await holdAndSettle(paywall, decision, res, next, captureRaw(res), async (captured) => {
    return { captured, outcome: await finishStatus(captured.midway ? 500 : captured.status) }
  })
  if (!settled) return
  const { captured, outcome } = settled
  if (outcome instanceof Response) return sendWebResponse(res, outcome, head)
  if (captured.midway) return sendWebResponse(res, handlerFailed(captured.status, true), head)
  sendCaptured(res, captured, outcome?.headers, head)
}

/**
 * Runs the handler (`next`) with its answer held by `capture`, then `settle`s it. A caller
 * that leaves before the answer is released (charged nothing); one that leaves during
 * settlement leaves a paid answer undelivered (served again on a retry). Resolves with
 * what `settle` gave, or `undefined` when there is nothing to send.
 */
async function holdAndSettle<C, T>(
  paywall: Paywall,
  decision: Proceed,
  res: ServerResponse,
  next: Next,
  capture: { done: Promise<C>; restore(): void },
  settle: (captured: C) => Promise<T>,
): Promise<T | undefined> {
  const report = (error: unknown) => void paywall.events.emit('error', error)
  let finished = false
  res.once('close', () => {
    if (!finished) {
      finished = true
      capture.restore()
      decision.abort('the client closed the connection before the response').catch(report)
    }
  })
  next()
  const captured = await capture.done
  if (finished) return undefined
  finished = true
  capture.restore()
  if (res.destroyed) {
    await decision.abort('the client closed the connection before the response')
    return undefined
  }
  const settled = await settle(captured)
  if (res.destroyed) {
    await decision.undelivered()
    return undefined
  }
  res.once('close', () => {
    if (!res.writableFinished) decision.undelivered().catch(report)
  })
  return settled
}

/**
 * A request paid from credit at a price known up front, without Web objects: hold the
 * price (in memory), let the handler run, and hold back only its `end()` (and any `write()`
 * before it) until the charge is written; then send it with its receipt. Anything else
 * (an unknown token, too little credit) takes the full path. The hot path: the response's
 * overrides are shared functions reading one state object, so a request allocates little.
 */
async function serveFromCredit(
  paywall: Paywall,
  fast: CreditFastPath,
  route: NonNullable<ReturnType<Paywall['match']>>,
  token: string,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
) {
  // A second paywall on the same response (the middleware mounted twice, overlapping
  // routes): the first one holds and charges it; this one takes nothing.
  if ((res as HeldResponse)[creditState]) return next()
  const drawn = fast.draw(route, token)
  const draw = drawn instanceof Promise ? await drawn : drawn
  if (!draw) return run(paywall, req, res, next, path, route, {})
  if (res.destroyed || req.socket?.destroyed) return draw.drop()
  const account = (draw as { hold?: { account: string } }).hold?.account
  const start = watching(paywall.events) ? startOf(firstHeader(req.headers['x-request-id'])) : undefined
  if (account) {
    // The fast path's routes have a fixed price: what this call is drawn, as the full path says it.
    const paid = route.price !== undefined ? { paid: { amount: route.price, asset: paywall.config.asset.address } } : {}
    req.x402 = { requestId: start?.requestId ?? randomUUID(), kind: 'credit', consumer: account, ...paid }
    if (paywall.config.trackingHeaders) for (const [name, value] of trackingPairs(req.x402)) req.headers[name] = value
  }
  const state: CreditState = {
    paywall,
    draw,
    req,
    path,
    route,
    start,
    next,
    write: res.write,
    end: res.end,
    writeHead: res.writeHead,
    early: undefined,
    bodyStatus: undefined,
    ended: false,
    sent: false,
    chunk: undefined,
    encoding: undefined,
    cb: undefined,
  }
  const held = res as HeldResponse
  held[creditState] = state
  // One listener: the caller left before the handler ended (release), or after the charge
  // while the answer was going out (the charge goes back).
  res.on('close', onCreditClose)
  res.writeHead = heldWriteHead
  res.write = heldWrite as ServerResponse['write']
  res.end = heldEnd as ServerResponse['end']
  next()
}

const creditState = Symbol('402x.credit')
type CreditState = {
  paywall: Paywall
  draw: FastDraw
  req: NodeRequest
  path: string
  route: NonNullable<ReturnType<Paywall['match']>>
  /** Set while something listens to `request` events. */
  start: ReturnType<typeof startOf> | undefined
  next: Next
  write: ServerResponse['write']
  end: ServerResponse['end']
  writeHead: ServerResponse['writeHead']
  /** `write()` calls before `end()`: sent after the charge (a streamed body is buffered). */
  early: [unknown, unknown][] | undefined
  bodyStatus: number | undefined
  ended: boolean
  sent: boolean
  /** What `end()` was called with. */
  chunk: unknown
  encoding: unknown
  cb: unknown
}
type HeldResponse = ServerResponse & { [creditState]: CreditState }

function onCreditClose(this: HeldResponse) {
  const state = this[creditState]
  if (!state.ended) {
    state.ended = true
    state.draw.drop()
    tellFastCredit(state, 499)
  } else if (state.sent && !this.writableFinished) void state.draw.undelivered()
}

function heldWrite(this: HeldResponse, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const state = this[creditState]
  // After end(): nothing more goes out (Node would refuse it too).
  if (state.ended) return false
  state.bodyStatus ??= this.statusCode
  state.early ??= []
  state.early.push([chunk, typeof encoding === 'function' ? undefined : encoding])
  const done = typeof encoding === 'function' ? encoding : cb
  if (typeof done === 'function') queueMicrotask(done as () => void)
  return true
}

function heldEnd(this: HeldResponse, chunk?: unknown, encoding?: unknown, cb?: unknown): HeldResponse {
  const state = this[creditState]
  // A second end() is ignored: the overrides stay until the paid answer goes out.
  if (state.ended) return this
  state.ended = true
  state.chunk = chunk
  state.encoding = encoding
  state.cb = cb
  const status = this.statusCode
  if (state.bodyStatus !== undefined && state.bodyStatus < 400 && status >= 400) {
    // Part of a paid body was written before the failure: none of it goes out unpaid.
    state.draw.drop()
    restoreCredit(this)
    tellFastCredit(state, status)
    sendWebResponse(this, handlerFailed(status, true)).catch(state.next)
    return this
  }
  const events = state.paywall.events
  const resource = events.listenerCount('receipt') > 0 ? resourceOf(state) : ''
  state.draw.settle(status, this, sendCharged, resource)
  return this
}

/** As the core writes it: the configured public URL, else the scheme and the (validated) Host. */
const resourceOf = (state: CreditState) =>
  `${state.paywall.config.publicUrl ?? `${schemeOf(state.req)}://${state.req.headers.host ?? 'localhost'}`}${state.path.split('?')[0]}`

function restoreCredit(res: HeldResponse) {
  const state = res[creditState]
  const plain = res as ServerResponse
  plain.write = state.write
  plain.end = state.end
  plain.writeHead = state.writeHead
}

/**
 * The charge is written (or refused): the held answer goes out with its receipt. Whatever
 * throws on the way (the handler's own `end()` arguments, a wrapper) goes to `next`, and the
 * charge goes back: the paid answer did not leave.
 */
function sendCharged(res: HeldResponse, receipt: string | Response) {
  const state = res[creditState]
  if (state.start) tellFastCredit(state, typeof receipt === 'string' ? res.statusCode : receipt.status)
  try {
    sendHeld(res, state, receipt)
  } catch (error) {
    // The receipt is not this answer's: the error answer says nothing was delivered.
    if (!res.headersSent) res.removeHeader(receiptHeader)
    void state.draw.undelivered()
    state.next(error)
  }
}

function sendHeld(res: HeldResponse, state: CreditState, receipt: string | Response) {
  restoreCredit(res)
  if (typeof receipt !== 'string') {
    sendWebResponse(res, receipt).catch(state.next)
    return
  }
  if (res.destroyed) {
    void state.draw.undelivered()
    return
  }
  setReceiptHeaders(res, receipt)
  state.sent = true
  if (state.early)
    for (const [c, e] of state.early) (state.write as (c: unknown, e?: unknown) => boolean).call(res, c, e)
  ;(state.end as (c?: unknown, e?: unknown, cb?: unknown) => ServerResponse).call(
    res,
    state.chunk,
    state.encoding,
    state.cb,
  )
}
