import { presentedKey } from '../keys/presentedKey.js'
import type { Paywall } from '../paywall/createPaywall.js'
import { parseCreditToken, receiptHeaders } from '../paywall/credits.js'
import { isValidHost } from '../paywall/host.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import type { RequestHead } from '../paywall/types.js'
import type { FastDraw } from '../pipeline/creditDraw.js'
import { creditFastPathOf } from '../pipeline/creditFastPath.js'
import { emitFast, startOf, watching } from '../pipeline/requestEvent.js'
import type { Closed, Held } from './createGate.js'
import { fullyErrored } from './fullyErrored.js'
import type { OperationPrice } from './priceOperation.js'
import { refusalOf } from './refusal.js'

/**
 * The HTTP request an operation came in, as the gate reads it: a request head (its URL made
 * only when something reads it) and its path without the query, which the routes match.
 */
export type OperationRequest = RequestHead & { readonly path: string }

/**
 * The GraphQL side of the credit fast path (pipeline/creditFastPath.ts): an operation with
 * `Authorization: Bearer x402c_…` and no payment header holds its price from credit in
 * memory, as a REST route with a fixed price does, without a Web `Request` or `Response` or
 * the pipeline's stages. Only where the pipeline would do nothing else: on the gate's own
 * route with no rate limit, an `accept` that takes credit, and no API key presented where
 * keys are on. `undefined` sends the operation down the full pipeline, which answers what
 * this path does not (an unknown token 401, too little credit 402, a bad Host 400). The money
 * is the same either way: the price held before execution, then charged (with the group
 * commit, its ledger entry and receipt) or released, once.
 *
 * @example
 * const credit = creditOperations(paywall)
 * const held = await credit?.open(request, route, price, '0.0015') // a Held, or undefined: ask the paywall
 */
export function creditOperations(paywall: Paywall) {
  const fast = creditFastPathOf(paywall)
  const own = paywall.config.routes[0]
  const accepted = !own?.accept || own.accept.includes('credits')
  if (!fast || !own || !fast.drawsAny(own) || !accepted) return undefined
  const { events, config } = paywall
  const keyHeader = config.keys?.header

  return function open(
    request: OperationRequest,
    route: ResolvedRoute | undefined,
    price: OperationPrice,
    dollars: string,
  ): Held | undefined | Promise<Held | undefined> {
    const { method, headers } = request
    if (route !== own || method === 'HEAD' || method === 'OPTIONS') return undefined
    const token = parseCreditToken(headers.get('authorization'))
    if (!token || headers.get('payment-signature') || headers.get('x-payment')) return undefined
    if (config.keys && presentedKey(headers, keyHeader) !== undefined) return undefined
    if (!isValidHost(headers.get('host'))) return undefined
    const start = watching(events) ? startOf(headers.get('x-request-id')) : undefined
    const held = (draw: FastDraw | undefined) => draw && creditHeld(draw, request, price, dollars, start)
    const drawn = fast.drawAt(token, price.amount)
    // A store that fails here held nothing: the pipeline asks again and answers it (a 503).
    return drawn instanceof Promise ? drawn.then(held, () => undefined) : held(drawn)
  }

  /**
   * One operation's hold, closed or released once: released when it errored entirely (or
   * never ran), else charged, with the receipt headers; a charge that could not be written
   * is a refusal (its answer is not sent).
   */
  function creditHeld(
    draw: FastDraw,
    request: OperationRequest,
    price: OperationPrice,
    dollars: string,
    start: ReturnType<typeof startOf> | undefined,
  ): Held {
    let done = false
    const tell = (status: number, reason?: string) => {
      if (!start) return
      const hold = (draw as { hold?: { account: string; amount: bigint } }).hold
      emitFast(events, {
        start,
        method: request.method,
        route: request.path,
        path: request.path,
        status,
        funded: 'credit',
        amount: hold?.amount ?? 0n,
        price: dollars,
        network: config.network,
        asset: config.asset.address,
        account: hold?.account,
        ip: undefined,
        ...(reason ? { reason } : {}),
      })
    }
    const release = (reason: string) => {
      draw.drop()
      tell(500, reason)
    }
    return {
      type: 'proceed',
      price,
      async close(result): Promise<Closed> {
        if (done) return { headers: [] }
        done = true
        if (fullyErrored(price.pricedRoots, result)) {
          release('operation_failed')
          return { headers: [] }
        }
        const receipt = await draw.finish(200, () => resourceOf(request))
        if (typeof receipt !== 'string') {
          tell(receipt.status)
          return { refusal: await refusalOf(receipt, dollars) }
        }
        tell(200)
        return { headers: receiptHeaders(receipt) }
      },
      async release(reason) {
        if (done) return
        done = true
        release(reason)
      },
    }
  }

  /** As the pipeline writes it: the configured public URL, else the request's origin; the path. */
  function resourceOf(request: OperationRequest) {
    const url = request.parsedUrl ?? new URL(request.url)
    return `${config.publicUrl ?? url.origin}${url.pathname}`
  }
}
