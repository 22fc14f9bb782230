import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { presentedKey } from '../keys/presentedKey.js'
import { trackingPairs } from '../paywall/callerView.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { X402Caller } from '../paywall/decision.js'
import type { KeyFastPath, KeyGrant } from '../pipeline/keyFastPath.js'
import { emitFast, startOf, watching } from '../pipeline/requestEvent.js'
import { firstHeader, routeName } from './fastCreditEvent.js'
import { headerView } from './headerView.js'
import type { Next, NodeRequest } from './nodeMiddleware.js'

type Route = NonNullable<ReturnType<Paywall['match']>>

/**
 * The API key a request carries, read as the full path reads it (`presentedKey` over the
 * headers as a Web `Headers` joins them); `undefined` without one, or when the request also
 * carries a payment (the full path decides between them).
 */
export function requestKey(req: NodeRequest, header: string): string | undefined {
  if (req.headers['payment-signature'] || req.headers['x-payment'] || req.method === 'OPTIONS') return undefined
  if (req.headers.authorization === undefined && req.headers[header] === undefined) return undefined
  return presentedKey(headerView(req), header)
}

/**
 * A call on an API key within its plan's allowance, served without Web objects: the plan's
 * limits taken and its quota reserved (keyFastPath.ts), the `RateLimit` headers and the
 * caller (`req.x402`, tracking headers) set, then the handler runs and answers as it would on
 * a free route (nothing is paid, so nothing is held back). When the answer has gone, a status
 * below 400 records the usage event; anything else gives the reservation back. A call the
 * fast path does not serve runs `full` (the pipeline), with nothing taken.
 */
export function serveFromKey(
  paywall: Paywall,
  fast: KeyFastPath,
  route: Route,
  key: string,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
  full: () => Promise<void>,
): Promise<void> | undefined {
  // A second paywall on the same response (mounted twice): the first one counted it.
  if ((res as KeyedResponse)[keyState]) {
    next()
    return undefined
  }
  let begun: ReturnType<KeyFastPath['begin']>
  try {
    begun = fast.begin(route, key, req.method ?? 'GET', path)
  } catch {
    return full()
  }
  // Decided in memory (the common case): no promise in between.
  if (!(begun instanceof Promise)) return begun ? serve(paywall, begun, route, req, res, next, path) : full()
  return begun.then(
    (grant) => (grant ? serve(paywall, grant, route, req, res, next, path) : full()),
    () => full(),
  )
}

/** Sets what the answer and the handler learn, and hands on to the handler. */
function serve(
  paywall: Paywall,
  grant: KeyGrant,
  route: Route,
  req: NodeRequest,
  res: ServerResponse,
  next: Next,
  path: string,
): undefined {
  const start = watching(paywall.events) ? startOf(firstHeader(req.headers['x-request-id'])) : undefined
  const state: KeyState = { paywall, grant, req, path, route, start }
  ;(res as KeyedResponse)[keyState] = state
  // The caller left while the limits were taken: nothing runs, nothing is recorded.
  if (res.destroyed || req.socket?.destroyed) {
    ended(state, res)
    return
  }
  try {
    for (const [name, value] of grant.headers) res.setHeader(name, value)
  } catch (error) {
    // The answer cannot take them (already sent by something before): nothing runs here.
    grant.drop()
    throw error
  }
  const { config } = paywall
  const caller: X402Caller = {
    requestId: start?.requestId ?? randomUUID(),
    kind: 'key',
    consumer: grant.record.id,
    plan: grant.plan.name,
  }
  // Within the plan's allowance: nothing paid for this call, as the full path says it.
  if (route.price !== undefined) caller.paid = { amount: '0', asset: config.asset.address }
  req.x402 = caller
  if (config.trackingHeaders) for (const [name, value] of trackingPairs(caller)) req.headers[name] = value
  res.on('close', onKeyClose)
  next()
}

const keyState = Symbol('402x.key')
type KeyState = {
  paywall: Paywall
  grant: KeyGrant
  req: NodeRequest
  path: string
  route: Route
  start: ReturnType<typeof startOf> | undefined
}
type KeyedResponse = ServerResponse & { [keyState]: KeyState }

function onKeyClose(this: KeyedResponse) {
  ended(this[keyState], this)
}

/** The response closed: the handler ended the answer (its status), or the caller left before it did (499). */
function ended(state: KeyState, res: ServerResponse) {
  const status = res.writableEnded ? res.statusCode : 499
  if (res.writableEnded) state.grant.finish(status)
  else state.grant.drop()
  const { start, paywall, grant, req, route } = state
  if (!start) return
  const path = pathOnly(state.path)
  emitFast(paywall.events, {
    start,
    method: req.method ?? 'GET',
    route: routeName(route, req, path),
    path,
    status,
    funded: 'key',
    amount: 0n,
    price: route.price,
    network: paywall.config.network,
    asset: paywall.config.asset.address,
    keyId: grant.record.id,
    plan: grant.plan.name,
    ip: req.ip ?? req.socket?.remoteAddress,
  })
}

const pathOnly = (path: string) => {
  const query = path.indexOf('?')
  return query === -1 ? path : path.slice(0, query)
}
