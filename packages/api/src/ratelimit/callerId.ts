import { createHash } from 'node:crypto'
import { X402Error } from '@402x/core'
import { callerIp } from './callerIp.js'

/** Who calls, as everything that counts callers sees it (free tiers, rate limits, plans). */
export type CallerSources = {
  /** The address the adapter saw (Express: `req.ip`, which follows `trust proxy`). */
  ip: string | undefined
  /** The API key sent (`Authorization: Bearer x402_…`, `X-API-Key` or the limit's header). */
  key: string | undefined
  /** The credit token sent. */
  token: string | undefined
  /** A wallet proven by a signature (a payment's, or a `SIGN-IN-WITH-X` proof). */
  payer: string | undefined
  /** The request as pricing code sees it. */
  req: unknown
}

export type CountBy =
  | 'ip'
  | 'key'
  | 'token'
  | 'payer'
  | ((req: never) => string | undefined | Promise<string | undefined>)

/**
 * The one piece of code that says who one caller is, for the free tier and for rate limits:
 * `ip` (IPv6 grouped by `ipv6Subnet`, IPv4-mapped as IPv4), `key`, `token` (hashed: secrets are
 * never kept as counter names), `payer` (lower-cased), or a function of the request (hashed).
 * `undefined` when the request carries no such identity: the caller decides what that means
 * (no free requests; counted by IP).
 *
 * @example
 * await callerId('ip', { ip: '2001:db8::1', key: undefined, token: undefined, payer: undefined, req }) // 'ip:2001:db8:0:0::/64'
 */
export async function callerId(
  by: CountBy,
  sources: CallerSources,
  ipv6Subnet: number | false = 64,
): Promise<string | undefined> {
  if (by === 'ip') {
    const ip = callerIp(sources.ip, ipv6Subnet)
    return ip === undefined ? undefined : `ip:${ip}`
  }
  if (by === 'key') return sources.key ? keyCallerId(sources.key) : undefined
  if (by === 'token') return sources.token ? `token:${digest(sources.token)}` : undefined
  if (by === 'payer') return sources.payer ? `payer:${sources.payer.toLowerCase()}` : undefined
  const id = await by(sources.req as never)
  if (id !== undefined && typeof id !== 'string') {
    throw new X402Error('internal_error', { message: `\`by\` returned ${typeof id}: return a string id, or undefined` })
  }
  return id ? `fn:${digest(id)}` : undefined
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22)

/** The id a limit counted `by: 'key'` gives an API key (`key:` and a hash of it, never the key). */
export const keyCallerId = (key: string): string => `key:${digest(key)}`
