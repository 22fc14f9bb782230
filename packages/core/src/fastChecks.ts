// Hand-written checks for the two shapes every paid request decodes: a v2 payment payload
// and its EVM `exact` authorization. Each accepts only what the zod schema accepts (a
// test compares them over thousands of variants), and answers `false` for anything else,
// so that the caller falls back to the schema and its precise error message. They exist
// for speed alone: on the paid path they cost a few µs where the schemas cost ~50.
import type { z } from 'zod'
import {
  type ExactEvmPayload,
  type PaymentPayload,
  PaymentPayloadSchema,
  type SettleResponse,
  SettleResponseSchema,
  type VerifyResponse,
  VerifyResponseSchema,
} from './types.js'

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const bytes32Pattern = /^0x[0-9a-fA-F]{64}$/
const hexPattern = /^0x([0-9a-fA-F]{2})*$/
// At most 77 digits: every such number is below 2^256 (1.16e77), so no BigInt is needed.
const uintPattern = /^(0|[1-9]\d{0,76})$/

type Obj = Record<string, unknown>

const isRecord = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value)
const isText = (value: unknown, min = 0): value is string => typeof value === 'string' && value.length >= min
const optionalText = (value: unknown) => value === undefined || typeof value === 'string'
const isUint = (value: unknown) => typeof value === 'string' && uintPattern.test(value)

/** `PaymentRequirementsSchema`, for what it surely accepts. */
function isRequirements(value: unknown): boolean {
  if (!isRecord(value)) return false
  const timeout = value.maxTimeoutSeconds
  return (
    isText(value.scheme, 1) &&
    isText(value.network, 1) &&
    isUint(value.amount) &&
    isText(value.asset, 1) &&
    isText(value.payTo, 1) &&
    typeof timeout === 'number' &&
    Number.isSafeInteger(timeout) &&
    timeout > 0 &&
    (value.extra === undefined || isRecord(value.extra))
  )
}

/**
 * Whether `value` (parsed from JSON text without a `__proto__` key) is a v2 payment payload
 * that `PaymentPayloadSchema` accepts as it is. `false` means "ask the schema".
 */
export function isPaymentPayload(value: unknown): value is PaymentPayload {
  if (!isRecord(value) || value.x402Version !== 2) return false
  const resource = value.resource
  if (resource !== undefined) {
    if (!isRecord(resource) || typeof resource.url !== 'string') return false
    if (!optionalText(resource.description) || !optionalText(resource.mimeType)) return false
  }
  return (
    isRequirements(value.accepted) &&
    isRecord(value.payload) &&
    (value.extensions === undefined || isRecord(value.extensions))
  )
}

/**
 * `ExactEvmPayloadSchema.safeParse(value)` for a payload it surely accepts: the same output
 * (known keys only), or `undefined` to ask the schema.
 */
export function exactEvmPayloadOf(value: unknown): ExactEvmPayload | undefined {
  if (!isRecord(value)) return undefined
  const { signature, authorization: a } = value
  if (typeof signature !== 'string' || !hexPattern.test(signature) || !isRecord(a)) return undefined
  const { from, to, nonce } = a
  if (typeof from !== 'string' || !addressPattern.test(from)) return undefined
  if (typeof to !== 'string' || !addressPattern.test(to)) return undefined
  if (!isUint(a.value) || !isUint(a.validAfter) || !isUint(a.validBefore)) return undefined
  if (typeof nonce !== 'string' || !bytes32Pattern.test(nonce)) return undefined
  return {
    signature,
    authorization: {
      from,
      to,
      value: a.value as string,
      validAfter: a.validAfter as string,
      validBefore: a.validBefore as string,
      nonce,
    },
  }
}

/** `VerifyResponseSchema`, for an answer it surely accepts as it is. */
export function isVerifyResponse(value: unknown): value is VerifyResponse {
  return (
    isRecord(value) &&
    typeof value.isValid === 'boolean' &&
    optionalText(value.invalidReason) &&
    optionalText(value.invalidMessage) &&
    optionalText(value.payer)
  )
}

/** `SettleResponseSchema`, for an answer it surely accepts as it is. */
export function isSettleResponse(value: unknown): value is SettleResponse {
  return (
    isRecord(value) &&
    typeof value.success === 'boolean' &&
    typeof value.transaction === 'string' &&
    typeof value.network === 'string' &&
    optionalText(value.errorReason) &&
    optionalText(value.errorMessage) &&
    optionalText(value.payer) &&
    optionalText(value.amount)
  )
}

/** The schemas with a hand-written check, and their checks. */
const checks = new Map<z.ZodType, (value: unknown) => boolean>([
  [PaymentPayloadSchema, isPaymentPayload],
  [VerifyResponseSchema, isVerifyResponse],
  [SettleResponseSchema, isSettleResponse],
])

/**
 * JSON text with no `__proto__` key and no `\u` escape (which could spell one): what the
 * hand-written checks may take, since its parsed value is then what the schemas return
 * (a schema copies a `__proto__` key differently).
 */
export function plainJson(text: string): boolean {
  return !text.includes('__proto__') && !text.includes('\\u')
}

/**
 * `schema.safeParse(json)` for `json` parsed from `text`: by hand when the schema has a
 * check and the value surely passes it (the paid path's shapes), else by the schema.
 */
export function safeParseJson<T extends z.ZodType>(
  schema: T,
  json: unknown,
  text: string,
): z.ZodSafeParseResult<z.output<T>> {
  const check = checks.get(schema)
  if (check && plainJson(text) && check(json)) return { success: true, data: json as z.output<T> }
  return schema.safeParse(json)
}
