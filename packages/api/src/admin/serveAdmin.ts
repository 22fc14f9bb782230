import { errorResponse } from '../paywall/responses.js'
import { type AdminHandler, type AdminRequest, withKeys } from './adminContext.js'
import { AdminInputError, adminError } from './adminHttp.js'
import { adminOpenApi } from './adminOpenApi.js'
import { adminPath } from './adminRoute.js'
import { adjustCredit, getCredit, grantCredit, listCredits } from './creditEndpoints.js'
import { exportUsage } from './exportEndpoint.js'
import { createKey, getKey, grantKey, keyBalance, keyUsage, listKeys, revokeKey } from './keyEndpoints.js'
import { getPayment, listPayments } from './paymentEndpoints.js'
import { listPlans, putPlan } from './planEndpoints.js'
import { getLive, getStats } from './statsEndpoints.js'
import { addWebhook, listDeliveries, listWebhooks, removeWebhook, replayDelivery } from './webhookEndpoints.js'

const openApi: AdminHandler = async ({ origin }) =>
  new Response(JSON.stringify(adminOpenApi(origin)), {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })

/** The admin API's endpoints, by path under `/__402x/admin` and method. */
const table: { path: RegExp; methods: Record<string, AdminHandler> }[] = [
  { path: /^\/keys$/, methods: { GET: withKeys(listKeys), POST: withKeys(createKey) } },
  { path: /^\/keys\/([^/]+)$/, methods: { GET: withKeys(getKey), DELETE: withKeys(revokeKey) } },
  { path: /^\/keys\/([^/]+)\/revoke$/, methods: { POST: withKeys(revokeKey) } },
  { path: /^\/keys\/([^/]+)\/usage$/, methods: { GET: withKeys(keyUsage) } },
  { path: /^\/keys\/([^/]+)\/credit$/, methods: { GET: withKeys(keyBalance), POST: withKeys(grantKey) } },
  { path: /^\/plans$/, methods: { GET: withKeys(listPlans) } },
  { path: /^\/plans\/([^/]+)$/, methods: { PUT: withKeys(putPlan) } },
  { path: /^\/payments$/, methods: { GET: listPayments } },
  { path: /^\/payments\/([^/]+)$/, methods: { GET: getPayment } },
  { path: /^\/credits$/, methods: { GET: listCredits } },
  { path: /^\/credits\/([^/]+)$/, methods: { GET: getCredit } },
  { path: /^\/credits\/([^/]+)\/grant$/, methods: { POST: grantCredit } },
  { path: /^\/credits\/([^/]+)\/adjust$/, methods: { POST: adjustCredit } },
  { path: /^\/export$/, methods: { GET: exportUsage } },
  { path: /^\/webhooks$/, methods: { GET: listWebhooks, POST: addWebhook } },
  { path: /^\/webhooks\/deliveries$/, methods: { GET: listDeliveries } },
  { path: /^\/webhooks\/deliveries\/([^/]+)\/replay$/, methods: { POST: replayDelivery } },
  { path: /^\/webhooks\/([^/]+)$/, methods: { DELETE: removeWebhook } },
  { path: /^\/openapi\.json$/, methods: { GET: openApi } },
  { path: /^\/stats$/, methods: { GET: getStats } },
  { path: /^\/live$/, methods: { GET: getLive } },
]

/**
 * Whether `pathname` (or a request target) is a key or plan endpoint: a paywall without
 * `keys` routes those as any other path (matchRequest's `unless`), so that the app's paywall
 * with keys answers them where this one prices nothing, and a priced route's price holds there.
 */
export const needsKeys = (pathname: string): boolean =>
  /^\/(?:keys|plans)(?:[/?#]|$)/.test(pathname.slice(adminPath.length))

/**
 * Answers one admin request (already let in by `checkAdminAuth`): its endpoint, 404
 * `not_found` for a path that is none, 405 with `Allow` for a method it does not take.
 */
export async function serveAdmin(method: string, request: Omit<AdminRequest, 'params'>): Promise<Response> {
  const sub = request.url.pathname.slice(adminPath.length)
  for (const entry of table) {
    const found = entry.path.exec(sub)
    if (!found) continue
    const asked = method === 'HEAD' ? 'GET' : method
    const handler = entry.methods[asked]
    if (!handler) {
      const allow = Object.keys(entry.methods)
      if (allow.includes('GET')) allow.push('HEAD')
      const response = errorResponse(
        405,
        'method_not_allowed',
        `${method} is not served at ${request.url.pathname}: use ${allow.join(' or ')}`,
      )
      response.headers.set('allow', allow.join(', '))
      return response
    }
    try {
      return await handler({ ...request, params: found.slice(1).map(decodeParam) })
    } catch (error) {
      return adminError(error)
    }
  }
  return errorResponse(
    404,
    'not_found',
    `no admin endpoint at ${request.url.pathname.slice(0, 200)}: see GET ${adminPath}/openapi.json for the list`,
  )
}

function decodeParam(param: string): string {
  try {
    return decodeURIComponent(param)
  } catch {
    throw new AdminInputError(`"${param.slice(0, 100)}" is not valid percent-encoding`)
  }
}
