import { signInAttempt } from '../admin/signInLimit.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { errorResponse } from '../paywall/responses.js'
import type { Stage } from '../pipeline/compose.js'
import { respond } from '../pipeline/context.js'
import { checkMetricsAuth } from './checkMetricsAuth.js'

/** Where the Prometheus metrics are served. */
export const metricsPath = '/__402x/metrics'

/** Marks `/__402x/metrics` in `match`: never priced, charged or rate limited. */
export const metricsRoute = Object.freeze({
  usesPayer: false,
  needsRequest: false,
  description: 'Prometheus metrics (Authorization: Bearer <X402_METRICS_TOKEN or X402_ADMIN_TOKEN>)',
  mimeType: 'text/plain',
  maxTimeoutSeconds: 0,
  // Scrapes are not requests of the API: no `request` event, so they count nowhere.
  internal: true,
}) as ResolvedRoute

/**
 * Metrics endpoint (`GET /__402x/metrics`, unless `metrics: false`): the paywall's registry
 * in Prometheus' text format, behind the metrics or admin token (`checkMetricsAuth`). Right
 * after `adminEndpoint`: a scrape is never priced, rate limited or charged (a wrong token is
 * a failed sign-in, `signInLimit.ts`). Reads `route`,
 * the request and `context.ip`; sets nothing. Other routes pass through untouched.
 */
export const metricsEndpoint: Stage = async (ctx, next) => {
  if (ctx.route !== metricsRoute) return next()
  const { rt, request } = ctx
  const metrics = rt.observe?.metrics
  if (!metrics) return next()
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const response = errorResponse(
      405,
      'method_not_allowed',
      `${request.method} is not served at ${metricsPath}: use GET`,
    )
    response.headers.set('allow', 'GET, HEAD')
    return respond(response)
  }
  const authorization = request.headers.get('authorization')
  const metricsToken = rt.observe?.metricsToken
  // The admin token opens the metrics too: a wrong one sent here counts as the admin API's.
  const attempt =
    authorization !== null && (metricsToken || rt.config.adminToken)
      ? await signInAttempt(rt.config.stores.rateLimits, ctx.context.ip)
      : undefined
  if (attempt instanceof Response) return respond(attempt)
  const refused = checkMetricsAuth({
    metricsToken,
    adminToken: rt.config.adminToken,
    network: rt.config.network,
    ip: ctx.context.ip,
    authorization,
  })
  await attempt?.done(refused?.status !== 401)
  if (refused) return respond(refused)
  const text = await metrics.registry.metrics()
  return respond(
    new Response(request.method === 'HEAD' ? null : text, {
      status: 200,
      headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
    }),
  )
}
