import { readJson } from '../../admin/adminHttp.js'
import { dashboardRoute } from '../../dashboard/dashboardRoute.js'
import { serveDashboard } from '../../dashboard/serveDashboard.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'

/**
 * Dashboard (`/__402x/dashboard/…`, on every paywall): the seller's page and its sign-in.
 * Right after `route`: never priced, rate limited or charged (failed sign-ins have a limit
 * of their own, in the rate-limit store). Its data comes from the admin API, which the
 * sign-in cookie opens for reads. Other routes pass through untouched.
 */
export const dashboardEndpoint: Stage = async (ctx, next) => {
  if (ctx.route !== dashboardRoute) return next()
  const { rt, request } = ctx
  return respond(
    await serveDashboard({
      method: request.method,
      url: ctx.url,
      origin: ctx.origin,
      headers: request.headers,
      token: rt.config.adminToken,
      network: rt.config.network,
      ip: ctx.context.ip,
      rateLimits: rt.config.stores.rateLimits,
      body: () => readJson(request, ctx.context.req),
    }),
  )
}
