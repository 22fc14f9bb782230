import {
  encodeHeader,
  headers,
  type PaymentRequired,
  type PaymentRequirements,
  type SettleResponse,
  toRequirementsV1,
  X402Error,
} from '@402x/core'
import { bazaarExtension } from '../discovery/bazaarExtension.js'
import { knownBody, responseOf } from './knownBody.js'
import type { ResolvedPaywall, ResolvedRoute } from './resolvePaywall.js'

/** Headers on every 402x answer to a paid route. */
export const exposeHeaders = 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE'

/**
 * The 402: `PAYMENT-REQUIRED` (v2) and a JSON body that a person, the seed's error handler
 * (`error`, `price`, `paymentAddress`) and a v1 client (`x402Version`, `accepts`) can read.
 */
export function paymentRequiredResponse(options: {
  paywall: ResolvedPaywall
  route: ResolvedRoute
  accepts: PaymentRequirements[]
  url: string
  /** This request's price in dollars. */
  price: string
  error?: { reason: string; message: string }
  settle?: SettleResponse
  status?: number
  /** The request's method: the bazaar extension needs it for a route that charges any method. */
  method?: string
  /** More x402 v2 extensions of this 402 (e.g. `sign-in-with-x`). */
  extensions?: Record<string, unknown>
  /** The top-up offer, repeated in the body for people and v1 clients. */
  credits?: Record<string, unknown>
}): Response {
  const { paywall, route, accepts, url } = options
  const main = accepts[0]
  const resource = { url, description: route.description, mimeType: route.mimeType }
  const required: PaymentRequired = {
    x402Version: 2,
    ...(options.error ? { error: options.error.reason } : {}),
    resource,
    accepts,
  }
  const bazaar = bazaarExtension({ paywall, route, url, method: options.method })
  if (bazaar || options.extensions) required.extensions = { ...bazaar, ...options.extensions }
  const body = {
    error: options.error ? 'Payment refused' : 'Payment required',
    ...(options.error ? { reason: options.error.reason, message: options.error.message } : {}),
    price: options.price,
    currency: 'USDC',
    amount: main?.amount,
    paymentAddress: main?.payTo ?? paywall.payTo,
    network: main?.network ?? paywall.network,
    x402Version: 1,
    accepts: accepts.map((a) => toRequirementsV1(a, resource)),
    ...(options.credits ? { credits: options.credits } : {}),
  }
  const out = new Headers({
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'access-control-expose-headers': exposeHeaders,
    [headers.paymentRequired]: encodeHeader(required),
  })
  if (options.settle) {
    out.set(headers.paymentResponse, encodeHeader(options.settle))
    out.set(headers.v1PaymentResponse, encodeHeader(options.settle))
  }
  return responseOf(JSON.stringify(body), { status: options.status ?? 402, headers: out })
}

/**
 * The JSON body of every refusal that is not a 402: the code as `reason` (as in a 402's body)
 * and as `error` (as earlier releases wrote it), and a message that says what to do.
 */
export function refusalBody(code: string, message: string): { error: string; reason: string; message: string } {
  return { error: code, reason: code, message }
}

/** A fault answer: 400 for bad input, 503 with `Retry-After` when a dependency is down. */
export function errorResponse(status: number, error: string, message: string, retryAfter?: number): Response {
  const out = new Headers({
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'access-control-expose-headers': exposeHeaders,
  })
  if (retryAfter !== undefined) out.set('retry-after', String(retryAfter))
  return responseOf(JSON.stringify(refusalBody(error, message)), { status, headers: out })
}

/** The 404 for a method and path that no route serves: no payment is asked for it. */
export function noRoute(method: string, path: string): Response {
  const shown = path.split('?')[0]?.slice(0, 200)
  return errorResponse(
    404,
    'not_found',
    `no route serves ${method} ${shown}: nothing is asked or charged for it; check the method and the path`,
  )
}

/** The headers a paid answer gets: the settlement receipt, and what a browser needs. */
export function receiptPairs(settle: SettleResponse, v1: boolean): [string, string][] {
  const receipt = encodeHeader(settle)
  const pairs: [string, string][] = [[headers.paymentResponse, receipt]]
  if (v1) pairs.push([headers.v1PaymentResponse, receipt])
  pairs.push(['access-control-expose-headers', exposeHeaders], ['cache-control', 'private, no-store'])
  return pairs
}

/** A copy of a response (its bytes kept, when 402x built it) with these headers set. */
export function withHeaders(response: Response, pairs: [string, string][]): Response {
  const known = knownBody(response)
  const out = known === undefined ? new Response(response.body, response) : responseOf(known, response)
  for (const [name, value] of pairs) out.headers.set(name, value)
  return out
}

/** The handler's response, with the settlement receipt and the headers a browser needs. */
export function stampReceipt(response: Response, settle: SettleResponse, v1: boolean): Response {
  return withHeaders(response, receiptPairs(settle, v1))
}

/**
 * The 500 for a handler that failed, charged nothing. `midway`: it failed after it started
 * its body, none of which is sent.
 */
export function handlerFailed(status = 500, midway = false): Response {
  return responseOf(
    JSON.stringify(
      refusalBody(
        'internal_error',
        midway
          ? 'the handler failed while writing its response; nothing was charged'
          : 'the handler failed; nothing was charged',
      ),
    ),
    { status: status >= 500 && status <= 599 ? status : 500, headers: { 'content-type': 'application/json' } },
  )
}

/** Dependencies down mean 503 with Retry-After; never served free, never charged. */
export function faultResponse(error: unknown): Response {
  if (error instanceof X402Error) {
    return errorResponse(
      error.status >= 500 && error.retryable ? 503 : error.status,
      error.code,
      `${error.message}${error.retryable ? '; nothing was charged, retry shortly' : ''}`,
      error.retryable ? 2 : undefined,
    )
  }
  return errorResponse(
    503,
    'internal_error',
    `payment could not be processed: ${(error as Error).message}; nothing was charged`,
    2,
  )
}
