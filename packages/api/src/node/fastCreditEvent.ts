import type { Paywall } from '../paywall/createPaywall.js'
import type { FastDraw } from '../pipeline/creditDraw.js'
import { frameworkRoute } from '../pipeline/frameworkRoute.js'
import { emitFast, type startOf } from '../pipeline/requestEvent.js'
import type { NodeRequest } from './nodeRequest.js'

/** What a fast-path credit request's `request` event is made of (its held-response state). */
export type FastCreditState = {
  paywall: Paywall
  draw: FastDraw
  req: NodeRequest
  path: string
  route: NonNullable<ReturnType<Paywall['match']>>
  /** Set while something listens to `request` events. */
  start: ReturnType<typeof startOf> | undefined
}

/** The `request` event of a request served from credit on the Node fast path, while something listens. */
export function tellFastCredit(state: FastCreditState, status: number): void {
  const { start, paywall, route } = state
  if (!start) return
  const hold = (state.draw as { hold?: { account: string; amount: bigint } }).hold
  const path = state.path.split('?')[0] ?? state.path
  emitFast(paywall.events, {
    start,
    method: state.req.method ?? 'GET',
    route: routeName(route, state.req, path),
    path,
    status,
    funded: 'credit',
    amount: hold?.amount ?? 0n,
    price: route.price,
    network: paywall.config.network,
    asset: paywall.config.asset.address,
    account: hold?.account,
    ip: state.req.ip ?? state.req.socket?.remoteAddress,
  })
}

/** A Node header's first value. */
export const firstHeader = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value

/** A fast-path request's route as `request` events name it: the paywall's pattern, else the framework's route, else the path. */
export const routeName = (route: { pattern?: { source: string } | undefined }, req: NodeRequest, path: string) =>
  route.pattern?.source ?? routeOfFramework(req) ?? path

/** The framework's own route with the method, as `request` events name a per-route paywall's. */
function routeOfFramework(req: NodeRequest): string | undefined {
  const route = frameworkRoute(req)
  return route === undefined ? undefined : `${req.method ?? 'GET'} ${route}`
}
