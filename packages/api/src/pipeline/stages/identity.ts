import { isIPv4, isIPv6 } from 'node:net'
import { decodeHeader, headers, PaymentPayloadSchema, PaymentPayloadV1Schema } from '@402x/core'
import { bearerToken } from '../../paywall/credits.js'
import type { Stage } from '../compose.js'

/**
 * Identity: who calls, resolved once for everything that counts callers (the free tier
 * now; rate limits and plans next). Reads the request head; sets `identity` (the grouped
 * IP, the credit token, the payer claimed by the payment header) and `decoded` (the
 * payment header, decoded once). Never answers: a bad header is refused by `decodePayment`.
 */
export const identity: Stage = (ctx, next) => {
  const { request } = ctx
  const v2Header = request.headers.get(headers.paymentSignature)
  const v1Header = v2Header ? null : request.headers.get(headers.v1Payment)
  const decoded = v2Header
    ? decodeHeader(v2Header, PaymentPayloadSchema)
    : v1Header
      ? decodeHeader(v1Header, PaymentPayloadV1Schema)
      : undefined
  const signer = decoded?.ok
    ? (decoded.value.payload as { authorization?: { from?: unknown } }).authorization?.from
    : undefined
  ctx.decoded = decoded
  ctx.identity = {
    ip: callerIp(ctx.context.ip),
    token: ctx.rt.config.credits ? bearerToken(request) : undefined,
    payer: typeof signer === 'string' ? signer : undefined,
  }
  return next()
}

/**
 * The caller's address as counted: an IPv4-mapped IPv6 address as its IPv4, any other
 * IPv6 address by its /64 (one subscriber's block, which it can rotate through freely).
 */
export function callerIp(ip: string | undefined): string | undefined {
  if (ip === undefined || isIPv4(ip)) return ip
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1]
  const bare = ip.replace(/%.*$/, '')
  if (!isIPv6(bare)) return ip
  const [head = '', tail = ''] = bare.split('::')
  const left = head ? head.split(':') : []
  const right = bare.includes('::') ? (tail ? tail.split(':') : []) : []
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}
