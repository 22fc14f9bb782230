import { decodeHeader, headers, PaymentPayloadSchema, PaymentPayloadV1Schema } from '@402x/core'
import { presentedKey } from '../../keys/presentedKey.js'
import { bearerToken } from '../../paywall/credits.js'
import { callerIp } from '../../ratelimit/callerIp.js'
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
    address: ctx.context.ip,
    ip: callerIp(ctx.context.ip),
    token: ctx.rt.config.credits ? bearerToken(request) : undefined,
    payer: typeof signer === 'string' ? signer : undefined,
    key: presentedKey(request.headers, ctx.rt.config.keys?.header),
  }
  return next()
}
