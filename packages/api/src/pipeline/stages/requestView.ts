import { webRequestInfo } from '../../paywall/webRequestInfo.js'
import type { Stage } from '../compose.js'

/**
 * Request view: the request as pricing code sees it (`ctx.req`). The framework's own
 * request when the adapter gave one; for Web adapters, built (body parsed from a clone)
 * only for routes whose code reads it. A fault here charges nothing (the error path).
 */
export const requestView: Stage = async (ctx, next) => {
  if (ctx.req === undefined && ctx.route.needsRequest) {
    const { request, context } = ctx
    if (!(request instanceof Request)) throw new TypeError('a request head without `context.req` cannot be priced')
    ctx.req = await webRequestInfo(request, ctx.route, {
      ip: context.ip,
      ...(context.params ? { params: context.params } : {}),
    })
  }
  return next()
}
