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
  // A second paywall on the same request (mounted twice): the first one counted it.
  if (req.x402 instanceof KeyCaller) {
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

/**
 * `req.x402` of a call served here: a class, so that a second paywall on the request knows it
 * at a glance, without a mark added to the request or the response (an added property
 * changes the shape of Node's objects, and costs more than the rest of this function).
 */
class KeyCaller implements X402Caller {
  // Declared in the order the plain object had them (its JSON unchanged); `paid` only when set.
  requestId: string
  kind = 'key' as const
  consumer: string
  plan: string
  declare paid?: { amount: string; asset: string }
  constructor(requestId: string, consumer: string, plan: string) {
    this.requestId = requestId
    this.consumer = consumer
    this.plan = plan
  }
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
  // The caller left while the limits were taken: nothing runs, nothing is recorded.
  if (res.destroyed || req.socket?.destroyed) {
    ended(paywall, grant, route, req, res, path, start)
    return
  }
  try {
    if (grant.policy !== undefined) {
      res.setHeader('ratelimit-policy', grant.policy)
      res.setHeader('ratelimit', grant.state as string)
    }
  } catch (error) {
    // The answer cannot take them (already sent by something before): nothing runs here.
    grant.drop()
    throw error
  }
  const { config } = paywall
  const caller = new KeyCaller(start?.requestId ?? randomUUID(), grant.record.id, grant.plan.name)
  // Within the plan's allowance: nothing paid for this call, as the full path says it.
  if (route.price !== undefined) caller.paid = { amount: '0', asset: config.asset.address }
  req.x402 = caller
  if (config.trackingHeaders) for (const [name, value] of trackingPairs(caller)) req.headers[name] = value
  // One listener, its state in the closure (nothing added to the response).
  res.on('close', () => ended(paywall, grant, route, req, res, path, start))
  next()
}

/** The response closed: the handler ended the answer (its status), or the caller left before it did (499). */
function ended(
  paywall: Paywall,
  grant: KeyGrant,
  route: Route,
  req: NodeRequest,
  res: ServerResponse,
  fullPath: string,
  start: ReturnType<typeof startOf> | undefined,
) {
  const status = res.writableEnded ? res.statusCode : 499
  if (res.writableEnded) grant.finish(status)
  else grant.drop()
  if (!start) return
  const path = pathOnly(fullPath)
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
    ip: callerIp(req),
  })
}

/**
 * `req.ip`, else the socket's address. Express's `req.ip` (a getter on its request prototype)
 * answers the socket's address when the request has no `X-Forwarded-For`, whatever
 * `trust proxy` says (proxy-addr: the socket's address, then the header's): read at once then,
 * without the getter's parsing (µs per request). A request's own `ip` (set by another framework) is used as it is.
 */
function callerIp(req: NodeRequest): string | undefined {
  if (req.headers['x-forwarded-for'] === undefined && !Object.hasOwn(req, 'ip')) return req.socket?.remoteAddress
  return req.ip ?? req.socket?.remoteAddress
}

const pathOnly = (path: string) => {
  const query = path.indexOf('?')
  return query === -1 ? path : path.slice(0, query)
}
