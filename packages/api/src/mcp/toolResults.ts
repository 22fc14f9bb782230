import { decodeHeader, headers, PaymentRequiredSchema, SettleResponseSchema } from '@402x/core'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { creditHint, offerCreditTool } from './creditOffer.js'
import { metaKeys } from './metaKeys.js'

/** The JSON body of a 402x refusal: `{ reason, message }` (paywall/responses.ts). */
type Refusal = { reason?: string; error?: string; message?: string; price?: unknown; credits?: unknown }

const bodyOf = async (response: Response): Promise<Refusal> => {
  try {
    return (await response.json()) as Refusal
  } catch {
    return {}
  }
}

/**
 * The tool result for a paywall answer that is not the tool's own: a 402 becomes x402's
 * payment-required result (`isError`, the `PaymentRequired` in `structuredContent` and, as
 * JSON, in `content[0].text`: specs/transports-v2/mcp.md); anything else (400, 429, 503) an
 * error result with its reason code and what to do. Nothing was charged either way. `bazaar`:
 * the tool's own discovery extension, in place of the HTTP route's.
 */
export async function refusalResult(
  response: Response,
  bazaar?: Record<string, unknown>,
  /** The server's tool that sells credit, offered in a 402's top-up (creditOffer.ts). */
  creditTool?: string,
): Promise<CallToolResult> {
  const body = await bodyOf(response)
  // A first 402 has no reason (its body's `error` is words for people): `payment_required`.
  const reason = body.reason ?? (response.status === 402 ? 'payment_required' : body.error) ?? 'internal_error'
  const header = response.headers.get(headers.paymentRequired)
  const decoded = header ? decodeHeader(header, PaymentRequiredSchema) : undefined
  const offered = creditTool && response.status === 402 && (!body.reason || body.reason === 'insufficient_credit')
  const message = offered
    ? creditHint(creditTool, reason, body)
    : (body.message ?? 'send an x402 payment for one of `accepts` in _meta["x402/payment"]')
  if (response.status === 402 && decoded?.ok) {
    const shown = creditTool ? offerCreditTool(decoded.value, creditTool) : decoded.value
    const required = { ...shown, error: shown.error ?? reason }
    if (bazaar) required.extensions = { ...required.extensions, bazaar }
    return {
      isError: true,
      structuredContent: required as unknown as Record<string, unknown>,
      content: [
        { type: 'text', text: JSON.stringify(required) },
        { type: 'text', text: `${required.error}: ${message}` },
      ],
    }
  }
  return refused(reason, message, response.status)
}

/** An error result for a call refused before any payment was looked at, or a fault. */
export function refused(reason: string, message: string, status?: number): CallToolResult {
  return {
    isError: true,
    structuredContent: { error: reason, message, ...(status ? { status } : {}) },
    content: [{ type: 'text', text: `${reason}: ${message}` }],
  }
}

/**
 * The tool's result with what it cost in `_meta`: the settlement (`x402/payment-response`) of
 * an x402 payment, or the credit receipt (`402x/receipt`) of a credit-funded call.
 */
export function withReceipt(result: CallToolResult, paid: Response): CallToolResult {
  const meta: Record<string, unknown> = {}
  const settle = paid.headers.get(headers.paymentResponse)
  const decoded = settle ? decodeHeader(settle, SettleResponseSchema) : undefined
  if (decoded?.ok) meta[metaKeys.paymentResponse] = decoded.value
  const credit = paid.headers.get('x-402x-receipt')
  if (credit) {
    try {
      meta[metaKeys.creditReceipt] = JSON.parse(credit)
    } catch {
      // A receipt 402x wrote is JSON; an unreadable one is left out rather than guessed.
    }
  }
  if (Object.keys(meta).length === 0) return result
  return { ...result, _meta: { ...result._meta, ...meta } }
}
