import { readJson } from '../../admin/adminHttp.js'
import { portalHome } from '../../portal/appPortal.js'
import { portalRoute } from '../../portal/portalRoute.js'
import { servePortal } from '../../portal/servePortal.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'

/**
 * Portal endpoint (`/__402x/portal/…`, public): the developer portal's page and its API,
 * authenticated by the portal's own session cookie (never the admin token). Right after
 * `route`: a portal request is never priced or charged. Answered with the app's portal
 * (`portalHome`: its paywall with API keys) and every priced route of the app. Reads `route`
 * and the request; sets nothing. Other routes pass through untouched.
 */
export const portalEndpoint: Stage = async (ctx, next) => {
  if (ctx.route !== portalRoute) return next()
  const { request } = ctx
  // The app's portal, whichever of its paywalls answers: the one with the keys.
  const rt = portalHome(ctx.rt)
  const portal = rt.portal
  if (!portal) return next()
  return respond(
    await servePortal(request.method, {
      rt,
      portal,
      url: ctx.url,
      origin: ctx.origin,
      headers: request.headers,
      ip: ctx.context.ip,
      body: () => readJson(request, ctx.context.req),
    }),
  )
}
