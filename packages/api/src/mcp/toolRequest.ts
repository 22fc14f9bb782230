import { encodeHeader, headers } from '@402x/core'
import type { RequestHead } from '../paywall/types.js'
import { metaKeys } from './metaKeys.js'

/**
 * A tool's URL: `mcp://tool/<name>`. Its scheme is not one WHATWG gives an origin to (it
 * reads `null`), so the origin is set here: the paywall builds the resource URL (the 402's
 * `resource.url` and the ledger's `resource`) from it, as x402's MCP packages name a tool.
 */
function toolUrl(name: string): URL {
  const url = new URL(`mcp://tool/${name}`)
  Object.defineProperty(url, 'origin', { value: 'mcp://tool' })
  return url
}

/** What a tool may be named: it names the resource `mcp://tool/<name>`. */
export const toolName = /^[A-Za-z0-9_.-]{1,128}$/

/** What the paywall is told of one tool call: refused before the paywall sees it, or its head. */
export type ToolRequest =
  | { ok: true; head: RequestHead }
  | { ok: false; reason: 'invalid_payment' | 'invalid_credit_token'; message: string }

/**
 * One `tools/call` as a request head for `paywall.handle`: `POST mcp://tool/<name>`, its
 * `_meta['x402/payment']` as the payment header (`PAYMENT-SIGNATURE`, or `X-PAYMENT` for an x402
 * v1 payload) and its `_meta['402x/credit']` as the credit token (`Authorization: Bearer`).
 */
export function toolRequest(
  name: string,
  meta: Record<string, unknown> | undefined,
  /** The query the paywall reads (`amount` of a top-up). */
  query?: Record<string, string>,
): ToolRequest {
  const url = toolUrl(name)
  if (query) url.search = new URLSearchParams(query).toString()
  const fields = new Map<string, string>()
  const payment = meta?.[metaKeys.payment]
  if (payment !== undefined && payment !== null) {
    const version = typeof payment === 'object' ? (payment as { x402Version?: unknown }).x402Version : undefined
    if (version !== 1 && version !== 2) {
      return {
        ok: false,
        reason: 'invalid_payment',
        message: `_meta['${metaKeys.payment}'] is not an x402 PaymentPayload (an object with x402Version 2, accepted and payload): sign the requirements of the tool's payment-required result and send that object`,
      }
    }
    fields.set((version === 1 ? headers.v1Payment : headers.paymentSignature).toLowerCase(), encodeHeader(payment))
  }
  const credit = meta?.[metaKeys.credit]
  if (credit !== undefined && credit !== null) {
    if (typeof credit !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(credit)) {
      return {
        ok: false,
        reason: 'invalid_credit_token',
        message: `_meta['${metaKeys.credit}'] must be the credit token as a string (x402c_…)`,
      }
    }
    fields.set('authorization', `Bearer ${credit}`)
  }
  const head: RequestHead = {
    url: url.href,
    method: 'POST',
    parsedUrl: url,
    headers: { get: (field) => fields.get(field.toLowerCase()) ?? null },
  }
  return { ok: true, head }
}
