import { decodeHeader, PaymentRequiredSchema } from '@402x/core'

/** Why an operation is not run (or its answer not sent), as a GraphQL error carries it. */
export type Refusal = {
  /** The HTTP status, where the transport can send one (a single operation over HTTP). */
  status: number
  /** The GraphQL error's `extensions`: `code`, `reason`, the price and, for a 402, the x402 requirements. */
  extensions: { code: string; reason: string; [key: string]: unknown }
  message: string
  /** Headers of the paywall's answer: `PAYMENT-REQUIRED`, `Retry-After` … */
  headers: [string, string][]
}

/** GraphQL error codes (SCREAMING_CASE, as Apollo's) for the paywall's HTTP refusals. */
const codes: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  409: 'CONFLICT',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
}

const skipped = new Set(['content-type', 'content-length'])

/**
 * The paywall's refusal (a 402 challenge, a 401 for a bad token, a 429, a 503 …) as a
 * GraphQL error: the same reason code and message, the `PAYMENT-REQUIRED` requirements in
 * `extensions.paymentRequired`, and the headers for the HTTP answer.
 *
 * `what`: the default message names an operation's price, or a batch's sum.
 *
 * @example
 * const refusal = await refusalOf(decision.response, '0.006')
 * refusal.extensions // { code: 'PAYMENT_REQUIRED', reason: 'payment_required', price: '0.006', paymentRequired: { … } }
 */
/** What a refusal prices: one operation, or the priced operations of a batch together. */
export type Priced = 'operation' | 'batch'

export async function refusalOf(response: Response, price: string, what: Priced = 'operation'): Promise<Refusal> {
  const status = response.status
  const body = (await response.json().catch(() => ({}))) as { reason?: string; error?: string; message?: string }
  const header = response.headers.get('payment-required')
  const decoded = header ? decodeHeader(header, PaymentRequiredSchema) : undefined
  const code = codes[status] ?? 'INTERNAL_SERVER_ERROR'
  const reason = body.reason ?? (status === 402 ? 'payment_required' : (body.error ?? 'refused'))
  const message =
    body.message ??
    (status !== 402
      ? `the paywall answered ${status}`
      : what === 'batch'
        ? `this batch's priced operations cost $${price} together: pay the sum with one x402 payment (the PAYMENT-REQUIRED header, or extensions.paymentRequired; the price of any operation that fails entirely comes back as credit), or send a credit token (Authorization: Bearer x402c_…) to pay each from credit`
        : `this operation costs $${price}: pay it with x402 (the PAYMENT-REQUIRED header, or extensions.paymentRequired), or send a credit token (Authorization: Bearer x402c_…)`)
  const headers: [string, string][] = []
  for (const [name, value] of response.headers) if (!skipped.has(name)) headers.push([name, value])
  return {
    status,
    message,
    headers,
    extensions: { code, reason, price, ...(decoded?.ok ? { paymentRequired: decoded.value } : {}) },
  }
}

/** A refusal made here, before the paywall is asked (too dear, a priced subscription). */
export function refusal(code: string, reason: string, message: string, price: string, status = 400): Refusal {
  return { status, message, headers: [], extensions: { code, reason, price } }
}
