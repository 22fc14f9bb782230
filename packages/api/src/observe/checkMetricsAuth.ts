import { bearerRefusal, isLoopback } from '../admin/checkAdminAuth.js'
import { errorResponse } from '../paywall/responses.js'

export type MetricsAuthInput = {
  /** `metrics.token`, else `X402_METRICS_TOKEN`. */
  metricsToken: string | undefined
  /** The admin token: it opens the metrics too. */
  adminToken: string | undefined
  network: string
  ip: string | undefined
  authorization: string | null
}

const missing =
  'the metrics need Authorization: Bearer <token>, the metrics token (X402_METRICS_TOKEN) or the admin token (X402_ADMIN_TOKEN)'
const wrong = 'the token sent is neither this API’s X402_METRICS_TOKEN nor its X402_ADMIN_TOKEN: send one of them'

/**
 * Who may scrape `/__402x/metrics`: whoever sends the metrics token or the admin token
 * (each compared in constant time); with neither set, as the admin API: loopback callers
 * on the local chain only (`402x dev`), nobody elsewhere. `undefined`: let the request in.
 *
 * @example
 * const refused = checkMetricsAuth({ metricsToken, adminToken, network, ip, authorization })
 * if (refused) return refused
 */
export function checkMetricsAuth(input: MetricsAuthInput): Response | undefined {
  const tokens = [input.metricsToken, input.adminToken].filter((t): t is string => Boolean(t))
  if (tokens.length > 0) {
    let refused: Response | undefined
    for (const token of tokens) {
      refused = bearerRefusal(token, input.authorization, 'invalid_metrics_token', { missing, wrong })
      if (!refused) return undefined
    }
    return refused
  }
  if (input.network === 'eip155:31337') {
    if (isLoopback(input.ip)) return undefined
    return errorResponse(
      403,
      'metrics_disabled',
      'without X402_METRICS_TOKEN or X402_ADMIN_TOKEN the metrics answer this machine only (loopback, on the local chain): scrape from 127.0.0.1, or set X402_METRICS_TOKEN on the server and send Authorization: Bearer <token>',
    )
  }
  return errorResponse(
    403,
    'metrics_disabled',
    'the metrics are closed: set X402_METRICS_TOKEN (or pass metrics: { token }) on the server, then scrape with Authorization: Bearer <token>',
  )
}
