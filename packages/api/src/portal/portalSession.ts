import { createHmac, timingSafeEqual } from 'node:crypto'

/** Who a portal session belongs to: a wallet proven with SIWX, or an API key. */
export type PortalSession =
  | { kind: 'wallet'; address: string; exp: number }
  | { kind: 'key'; keyId: string; exp: number }

/** The session cookie's name. */
export const sessionCookie = '__402x_portal'

const sign = (secret: Buffer, body: string) => createHmac('sha256', secret).update(body).digest('base64url')

/**
 * A session cookie's value: the session as base64url JSON and its HMAC-SHA256. Nothing is
 * stored on the server; the signature and the expiry are checked on each request.
 *
 * @example
 * const value = sealSession(secret, { kind: 'wallet', address, exp: Date.now() + 3_600_000 })
 */
export function sealSession(secret: Buffer, session: PortalSession): string {
  const body = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url')
  return `${body}.${sign(secret, body)}`
}

/** The session in a request's `Cookie` header, when it is signed by `secret` and not expired. */
export function openSession(secret: Buffer, cookieHeader: string | null, now = Date.now()): PortalSession | undefined {
  const value = readCookie(cookieHeader, sessionCookie)
  if (!value) return undefined
  const [body, mac] = value.split('.')
  if (!body || !mac) return undefined
  const expected = Buffer.from(sign(secret, body))
  const given = Buffer.from(mac)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined
  try {
    const session = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as PortalSession
    if (typeof session.exp !== 'number' || session.exp <= now) return undefined
    if (session.kind === 'wallet' && typeof session.address === 'string') return session
    if (session.kind === 'key' && typeof session.keyId === 'string') return session
  } catch {}
  return undefined
}

/** `Set-Cookie` for a session: HttpOnly, SameSite=Strict, on the portal's path only. */
export function sessionSetCookie(value: string, maxAgeMs: number, secure: boolean, path: string): string {
  const age = Math.max(0, Math.floor(maxAgeMs / 1000))
  return `${sessionCookie}=${value}; Path=${path}; Max-Age=${age}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
}

function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
