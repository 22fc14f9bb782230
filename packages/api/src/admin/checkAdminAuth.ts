import { createHash, timingSafeEqual } from 'node:crypto'
import { errorResponse } from '../paywall/responses.js'
import { hasSession } from './adminSession.js'

/** The local chain `402x dev` runs. */
const localNetwork = 'eip155:31337'

export type AdminAuthInput = {
  /** The admin token (`adminToken`, else `X402_ADMIN_TOKEN`); `undefined`: none set. */
  token: string | undefined
  network: string
  /** The caller's address as the adapter saw it. */
  ip: string | undefined
  authorization: string | null
  /**
   * The `Cookie` header: the dashboard's session (`adminSession.ts`) lets in reads (GET,
   * HEAD) only, so a forged cross-site form can never change anything.
   */
  cookie?: string | null
  /** The request's method; the session cookie counts for GET and HEAD only. */
  method?: string
  /**
   * The `Origin` header and this API's own origin: the session cookie also opens writes
   * (the dashboard's webhook replay) when they are equal, as a browser sends them only on a
   * request this API's own page made (SameSite=Strict keeps other sites' out already).
   */
  requestOrigin?: string | null
  selfOrigin?: string
}

/**
 * Who may use the admin API: with a token, whoever presents it (compared in constant time,
 * over sha256 digests so that not even its length leaks), or the dashboard's session cookie
 * (reads, and writes from this API's own page); nobody else, on any network and from any
 * address: a page open in this machine's browser could otherwise send this machine's
 * requests (`402x dev` always sets a token, and its commands send it). Without a token:
 * loopback callers on the local chain only, never from another site's page (`Origin`), and
 * nobody elsewhere. `undefined`: let the request in.
 *
 * @example
 * const refused = checkAdminAuth({ token, network, ip, authorization: request.headers.get('authorization') })
 * if (refused) return refused
 */
export function checkAdminAuth(input: AdminAuthInput): Response | undefined {
  const { token } = input
  if (token !== undefined) {
    if ((input.method === 'GET' || input.method === 'HEAD' || sameOrigin(input)) && hasSession(input.cookie, token))
      return undefined
    const local = input.network === localNetwork
    return bearerRefusal(token, input.authorization, 'invalid_admin_token', {
      missing: local
        ? 'the admin API needs Authorization: Bearer <admin token>: `402x dev` prints it (adminToken in --json), and the 402x commands run in its folder send it'
        : 'the admin API needs Authorization: Bearer <X402_ADMIN_TOKEN>',
      wrong: 'the admin token sent is not this API’s X402_ADMIN_TOKEN: send the token the server was started with',
    })
  }
  if (input.network === localNetwork) {
    if (isLoopback(input.ip)) {
      // A name another site rebinds to 127.0.0.1 (DNS rebinding) makes its page same-origin:
      // without a token, only a loopback name is this machine's own API.
      if (!loopbackOrigin(input.selfOrigin)) {
        return errorResponse(
          403,
          'cross_origin_refused',
          `this API was reached as ${input.selfOrigin}: without X402_ADMIN_TOKEN the admin API answers through localhost, 127.0.0.1 or [::1] only; use one of those, or set X402_ADMIN_TOKEN and send Authorization: Bearer <token>`,
        )
      }
      if (!crossSite(input)) return undefined
      return errorResponse(
        403,
        'cross_origin_refused',
        `a page of ${input.requestOrigin} may not call this admin API: call it from a shell (curl, 402x), or set X402_ADMIN_TOKEN and send Authorization: Bearer <token>`,
      )
    }
    return errorResponse(
      403,
      'admin_disabled',
      'without X402_ADMIN_TOKEN the admin API answers this machine only (loopback, on the local chain): call it from 127.0.0.1, or set X402_ADMIN_TOKEN on the server and send Authorization: Bearer <token>',
    )
  }
  return errorResponse(
    403,
    'admin_disabled',
    'the admin API is off: set X402_ADMIN_TOKEN (or pass `adminToken`) on the server, then send Authorization: Bearer <token>',
  )
}

/**
 * A bearer-token check: `undefined` when `authorization` carries `token` (compared in
 * constant time), else a 401 with `code` and the message for a missing or a wrong token.
 */
export function bearerRefusal(
  token: string,
  authorization: string | null | undefined,
  code: string,
  messages: { missing: string; wrong: string },
): Response | undefined {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')?.[1]
  if (presented !== undefined && sameSecret(presented, token)) return undefined
  const response = errorResponse(401, code, presented === undefined ? messages.missing : messages.wrong)
  response.headers.set('www-authenticate', 'Bearer')
  return response
}

const digest = (value: string) => createHash('sha256').update(value).digest()
/** Two secrets compared in constant time (over sha256 digests: not even the length leaks). */
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b))

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

/** Whether this API's own origin names this machine (`localhost`, 127.x, [::1]); unknown counts as yes. */
function loopbackOrigin(origin: string | undefined): boolean {
  if (!origin) return true
  let host: string
  try {
    host = new URL(origin).hostname
  } catch {
    return false
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || isLoopback(host)
}

/** A write from this API's own page: its `Origin` is this API's origin. */
const sameOrigin = (input: AdminAuthInput): boolean =>
  Boolean(input.requestOrigin && input.selfOrigin && input.requestOrigin === input.selfOrigin)

/** A request a page of another origin made (browsers send `Origin` on every such fetch or form). */
const crossSite = (input: AdminAuthInput): boolean =>
  Boolean(input.requestOrigin) && input.requestOrigin !== input.selfOrigin
