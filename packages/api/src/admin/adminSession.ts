import { createHmac, timingSafeEqual } from 'node:crypto'

/** The dashboard's sign-in cookie: HttpOnly, SameSite=Strict, for `/__402x` only. */
export const sessionCookieName = 'x402_admin'

/**
 * The cookie's value for an admin token: an HMAC of it, so the token itself never sits in
 * the browser, and every session ends when the token changes.
 */
export const sessionValue = (token: string) =>
  createHmac('sha256', token).update('402x dashboard session v1').digest('base64url')

/**
 * Whether a `Cookie` header carries the session of `token` (compared in constant time).
 *
 * @example
 * hasSession(request.headers.get('cookie'), token)
 */
export function hasSession(cookie: string | null | undefined, token: string): boolean {
  if (!cookie) return false
  const expected = Buffer.from(sessionValue(token))
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== sessionCookieName) continue
    const presented = Buffer.from(part.slice(eq + 1).trim())
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) return true
  }
  return false
}

/** Whether a `Cookie` header carries a session cookie at all (right or wrong): a sign-in attempt. */
export const presentsSession = (cookie: string | null | undefined): boolean =>
  Boolean(cookie?.split(';').some((part) => part.split('=')[0]?.trim() === sessionCookieName))

/**
 * The `Set-Cookie` that signs in, for 7 days; `secure` when the API is reached over https
 * (its `publicUrl`, TLS, or a proxy the framework trusts: Express `trust proxy`, Fastify
 * `trustProxy`).
 */
export const sessionCookie = (token: string, secure: boolean) =>
  `${sessionCookieName}=${sessionValue(token)}; Path=/__402x; HttpOnly; SameSite=Strict; Max-Age=604800${secure ? '; Secure' : ''}`

/** The `Set-Cookie` that signs out (`secure` over https, as the cookie it replaces). */
export const clearedSessionCookie = (secure: boolean) =>
  `${sessionCookieName}=; Path=/__402x; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
