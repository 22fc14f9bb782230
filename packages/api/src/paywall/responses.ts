import { encodeHeader, headers, type SettleResponse, X402Error } from '@402x/core'
import { knownBody, responseOf } from './knownBody.js'

/** Headers on every 402x answer to a paid route. */
export const exposeHeaders = 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE'

/**
 * The JSON body of every refusal that is not a 402: the code as `reason` (as in a 402's body)
 * and as `error` (what clients that read `error` rely on), and a message that says what to do.
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
