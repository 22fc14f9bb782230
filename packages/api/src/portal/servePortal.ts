import { AdminInputError } from '../admin/adminHttp.js'
import { errorResponse, faultResponse } from '../paywall/responses.js'
import { credits, creditToken, usage } from './portalAccount.js'
import { type PortalHandler, PortalRefusal, type PortalRequest } from './portalContext.js'
import { info, openApi } from './portalInfo.js'
import { createOwnKey, listOwnKeys, revokeOwnKey } from './portalKeys.js'
import { portalPath } from './portalRoute.js'
import { me, signIn, signOut, siwxChallenge } from './portalSignIn.js'
import { staticFiles, uiDir } from './staticFiles.js'

/** The portal API's endpoints, by path under `/__402x/portal/api` and method. */
const table: { path: RegExp; methods: Record<string, PortalHandler> }[] = [
  { path: /^\/info$/, methods: { GET: info } },
  { path: /^\/openapi\.json$/, methods: { GET: openApi } },
  { path: /^\/siwx$/, methods: { GET: siwxChallenge } },
  { path: /^\/session$/, methods: { POST: signIn, DELETE: signOut } },
  { path: /^\/me$/, methods: { GET: me } },
  { path: /^\/usage$/, methods: { GET: usage } },
  { path: /^\/credits$/, methods: { GET: credits } },
  { path: /^\/credits\/token$/, methods: { POST: creditToken } },
  { path: /^\/keys$/, methods: { GET: listOwnKeys, POST: createOwnKey } },
  { path: /^\/keys\/([^/]+)$/, methods: { DELETE: revokeOwnKey } },
]

const apiPath = `${portalPath}/api`
let files: ReturnType<typeof staticFiles> | undefined

/**
 * Answers one portal request: the page and its files, else an API endpoint. A request that
 * changes something must come from the portal's own origin (`Origin`, when sent).
 */
export async function servePortal(method: string, request: Omit<PortalRequest, 'params'>): Promise<Response> {
  const path = request.url.pathname
  if (path !== apiPath && !path.startsWith(`${apiPath}/`)) {
    files ??= staticFiles(uiDir('portal'), portalPath)
    return files(path, method)
  }
  const sub = path.slice(apiPath.length)
  const secure = request.origin.startsWith('https:')
  for (const entry of table) {
    const found = entry.path.exec(sub)
    if (!found) continue
    const asked = method === 'HEAD' ? 'GET' : method
    const handler = entry.methods[asked]
    if (!handler) {
      const allow = Object.keys(entry.methods).join(', ')
      const response = errorResponse(405, 'method_not_allowed', `${method} is not served at ${path}: use ${allow}`)
      response.headers.set('allow', allow)
      return response
    }
    try {
      if (asked !== 'GET') sameOrigin(request)
      const params = found.slice(1).map((p) => decodeURIComponent(p))
      return await handler({ ...request, params })
    } catch (error) {
      if (error instanceof PortalRefusal) return error.response(secure)
      if (error instanceof AdminInputError) return errorResponse(400, 'invalid_request', error.message)
      if (error instanceof URIError)
        return errorResponse(400, 'invalid_request', 'the path is not valid percent-encoding')
      return faultResponse(error)
    }
  }
  return errorResponse(404, 'not_found', `no portal endpoint at ${path.slice(0, 200)}`)
}

/** Refuses a cross-site write (the cookie is SameSite=Strict too). */
function sameOrigin(request: Omit<PortalRequest, 'params'>): void {
  const origin = request.headers.get('origin')
  if (origin === null) return
  if (origin !== new URL(request.origin).origin) {
    throw new PortalRefusal(
      403,
      'cross_origin_refused',
      `the portal takes writes from ${new URL(request.origin).origin} only`,
    )
  }
}
