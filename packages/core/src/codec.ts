import type { z } from 'zod'
import { safeParseJson } from './fastChecks.js'
import type { Invalid } from './reasons.js'

/** x402 v2 and v1 HTTP header names. */
export const headers = {
  paymentRequired: 'PAYMENT-REQUIRED',
  paymentSignature: 'PAYMENT-SIGNATURE',
  paymentResponse: 'PAYMENT-RESPONSE',
  v1Payment: 'X-PAYMENT',
  v1PaymentResponse: 'X-PAYMENT-RESPONSE',
} as const

/** Headers larger than this are refused before decoding. */
export const maxHeaderBytes = 16 * 1024

/**
 * Encodes an object as an x402 header value: base64 (standard, padded) of UTF-8 JSON.
 *
 * @example
 * res.setHeader('PAYMENT-REQUIRED', encodeHeader(paymentRequired))
 */
export function encodeHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64')
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Decodes and validates an x402 header value. Never throws: bad input is data.
 *
 * @example
 * const result = decodeHeader(value, PaymentPayloadSchema)
 * if (!result.ok) return badRequest(result.error)
 */
export function decodeHeader<T extends z.ZodType>(
  value: string,
  schema: T,
): { ok: true; value: z.infer<T> } | { ok: false; error: Invalid } {
  if (value.length > maxHeaderBytes) {
    return invalid('payload_too_large', `header is ${value.length} bytes; at most ${maxHeaderBytes} are accepted`)
  }
  const text = value.trim()
  // Base64 has no comma: a comma is a header sent twice, its values joined (RFC 9110 §5.3).
  if (text.includes(',')) {
    return invalid(
      'invalid_payload',
      'the payment header was sent more than once: send exactly one PAYMENT-SIGNATURE (or X-PAYMENT) header, holding one payment',
    )
  }
  if (text.length % 4 !== 0 || !base64.test(text)) {
    return invalid('invalid_payload', 'header is not base64 (standard alphabet, padded)')
  }
  let json: unknown
  const decoded = Buffer.from(text, 'base64').toString('utf8')
  try {
    json = JSON.parse(decoded)
  } catch {
    return invalid('invalid_payload', 'header is base64 but not JSON')
  }
  const parsed = safeParseJson(schema, json, decoded)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? issue.path.join('.') : 'payload'
    return invalid('invalid_payload', `${where}: ${issue?.message ?? 'does not match the x402 schema'}`)
  }
  return { ok: true, value: parsed.data }
}

function invalid(reason: Invalid['reason'], message: string): { ok: false; error: Invalid } {
  return { ok: false, error: { isValid: false, reason, message } }
}
