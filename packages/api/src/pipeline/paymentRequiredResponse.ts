import {
  encodeHeader,
  headers,
  type PaymentRequired,
  type PaymentRequirements,
  type SettleResponse,
  toRequirementsV1,
} from '@402x/core'
import { bazaarExtension } from '../discovery/bazaarExtension.js'
import { responseOf } from '../paywall/knownBody.js'
import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { exposeHeaders } from '../paywall/responses.js'

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
  /** The framework's route of a paywall without a route table (the discovery documents list it). */
  frameworkRoute?: string | undefined
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
  const bazaar = bazaarExtension({
    paywall,
    route,
    url,
    method: options.method,
    frameworkRoute: options.frameworkRoute,
  })
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
