import { liveStream } from '../analytics/liveStream.js'
import { type StatsRange, statsRanges } from '../analytics/statsRange.js'
import type { AdminHandler } from './adminContext.js'
import { AdminInputError, adminJson } from './adminHttp.js'

/** `GET /stats?range=hour|day|30d`: the dashboard's figures of a range ending now. */
export const getStats: AdminHandler = async ({ rt, url }) => {
  const range = (url.searchParams.get('range') ?? 'hour') as StatsRange
  if (!statsRanges.includes(range)) {
    throw new AdminInputError(
      `range is ${JSON.stringify(range.slice(0, 20))}: give range=hour, range=day or range=30d`,
      { status: 400, code: 'invalid_range' },
    )
  }
  return adminJson(200, await analyticsOf(rt).stats(range))
}

/** `GET /live`: server-sent events, one `request` per request and one `payment` per settlement. */
export const getLive: AdminHandler = async ({ rt }) => liveStream(analyticsOf(rt).live, rt.decimals)

function analyticsOf(rt: Parameters<AdminHandler>[0]['rt']) {
  if (!rt.analytics) {
    throw new AdminInputError('this paywall keeps no analytics', { status: 404, code: 'analytics_off' })
  }
  return rt.analytics
}
