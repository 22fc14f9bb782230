import { clearedSessionCookie, sessionCookie } from '../admin/adminSession.js'
import { checkAdminAuth } from '../admin/checkAdminAuth.js'
import { signInAttempt } from '../admin/signInLimit.js'
import { errorResponse } from '../paywall/responses.js'
import type { RateLimitStore } from '../ratelimit/types.js'
import { dashboardPath } from './dashboardRoute.js'
import { loadUiFiles, type UiFile, uiDir } from './uiFiles.js'

/** What the dashboard needs of one request. */
export type DashboardRequest = {
  method: string
  url: URL
  /**
   * The URL callers use (`publicUrl`, else the request's own, whose scheme follows the
   * framework's trusted proxy): the session cookie is `Secure` when it is https.
   */
  origin: string
  headers: { get(name: string): string | null }
  token: string | undefined
  network: string
  ip: string | undefined
  /** Where failed sign-ins are counted (the paywall's rate-limit store). */
  rateLimits: RateLimitStore
  body(): Promise<Record<string, unknown>>
}

/** The page's headers: nothing loads from another host, nothing frames it, no referrer leaks a token. */
const pageHeaders = {
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

/** Whether the cookie can be `Secure`: the API is reached over https (directly, or behind a trusted proxy). */
const isSecure = (request: DashboardRequest) => request.origin.startsWith('https:')

let files: Map<string, UiFile> | undefined | null

/**
 * Answers `/__402x/dashboard/…`: the built app's files (`packages/api/dist/ui/dashboard`),
 * and the sign-in: `POST /login` with `{ token }`, or `GET /login?token=…` (the link
 * `402x dev` prints), each setting the session cookie the admin API accepts for reads,
 * then (the link) a redirect that drops the token from the address; `POST /logout`. Failed
 * sign-ins are limited per address (`signInLimit.ts`: 429 `rate_limited`, `Retry-After`).
 *
 * @example
 * const response = await serveDashboard({ method, url, origin, headers, token, network, ip, rateLimits, body })
 */
export async function serveDashboard(request: DashboardRequest): Promise<Response> {
  const sub = request.url.pathname.slice(dashboardPath.length) || '/'
  const { method } = request
  if (sub === '/login' && (method === 'GET' || method === 'POST')) return login(request)
  if (sub === '/logout' && method === 'POST') {
    return new Response(null, {
      status: 204,
      headers: { 'set-cookie': clearedSessionCookie(isSecure(request)), 'cache-control': 'no-store' },
    })
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const response = errorResponse(
      405,
      'method_not_allowed',
      `${method} is not served at ${request.url.pathname}: use GET`,
    )
    response.headers.set('allow', 'GET, HEAD')
    return response
  }
  if (files === undefined) {
    const dir = uiDir('dashboard')
    files = dir ? loadUiFiles(dir) : null
  }
  if (!files) {
    return errorResponse(
      404,
      'dashboard_not_built',
      'the dashboard is not built in this install: run `npm run build` in the 402x repository (it builds apps/dashboard into packages/api/dist/ui/dashboard)',
    )
  }
  // A path with no extension is a page of the app: its shell.
  const file = files.get(sub) ?? (/\.[a-z0-9]+$/i.test(sub) ? undefined : files.get('/index.html'))
  if (!file) return errorResponse(404, 'not_found', `no dashboard file at ${request.url.pathname.slice(0, 200)}`)
  const headers: Record<string, string> = {
    ...pageHeaders,
    'content-type': file.type,
    etag: file.etag,
    'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  }
  if (request.headers.get('if-none-match') === file.etag) return new Response(null, { status: 304, headers })
  headers['content-length'] = String(file.body.length)
  return new Response(method === 'HEAD' ? null : (file.body as Uint8Array<ArrayBuffer>), { status: 200, headers })
}

async function login(request: DashboardRequest): Promise<Response> {
  const fromLink = request.method === 'GET'
  const presented = fromLink ? request.url.searchParams.get('token') : (await request.body()).token
  const secure = isSecure(request)
  const { token } = request
  // Counted before the token is compared: past the limit, nothing is compared at all.
  const attempt = await signInAttempt(request.rateLimits, request.ip)
  if (attempt instanceof Response) return attempt
  const refused = checkAdminAuth({
    token,
    network: request.network,
    ip: request.ip,
    authorization: typeof presented === 'string' && presented !== '' ? `Bearer ${presented}` : null,
  })
  // A wrong or missing token is a failed sign-in; an admin API that is off (403) is none.
  await attempt.done(refused?.status !== 401)
  if (fromLink) {
    // The token leaves the address bar either way: the next page is the dashboard without it.
    const headers: Record<string, string> = {
      location: `${dashboardPath}/${refused ? '?signin=failed' : ''}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    }
    if (!refused && token !== undefined) headers['set-cookie'] = sessionCookie(token, secure)
    return new Response(null, { status: 303, headers })
  }
  if (refused) return refused
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  if (token !== undefined) headers['set-cookie'] = sessionCookie(token, secure)
  return new Response(null, { status: 204, headers })
}
