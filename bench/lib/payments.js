// Payments are signed before a timed run, so the run measures the server, not the client.
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema } from '@402x/core'

/** Asks the server for its terms: one unpaid request, its 402 and decoded PAYMENT-REQUIRED. */
export async function fetchTerms(port, path, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(10_000) })
  await res.arrayBuffer()
  const header = res.headers.get('payment-required')
  if (res.status !== 402 || !header)
    throw new Error(`expected a 402 with PAYMENT-REQUIRED from ${path}, got ${res.status}`)
  const decoded = decodeHeader(header, PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`PAYMENT-REQUIRED from ${path} does not decode: ${decoded.error.message}`)
  const requirements = decoded.value.accepts[0]
  if (!requirements) throw new Error(`PAYMENT-REQUIRED from ${path} offers nothing`)
  return { requirements, resource: decoded.value.resource }
}

/**
 * Signs `count` payments for the terms, round-robin over the buyers (each with a fresh
 * random EIP-3009 nonce), and encodes them as PAYMENT-SIGNATURE values.
 */
export function presign({ terms, buyers, count }) {
  const out = new Array(count)
  for (let i = 0; i < count; i++) {
    const buyer = buyers[i % buyers.length]
    out[i] = encodeHeader(
      createPayment({
        privateKey: buyer.privateKey,
        from: buyer.address,
        requirements: terms.requirements,
        resource: terms.resource,
      }),
    )
  }
  return out
}

/**
 * How many payments to sign for a timed run: 2× what the warm-up's rate would use in
 * `durationMs`, plus 20 per caller, within [100, 40 000].
 */
export const poolSize = (warmup, concurrency, durationMs) =>
  Math.min(
    40_000,
    Math.max(100, Math.ceil((warmup.total / warmup.elapsed) * (durationMs / 1000) * 2) + 20 * concurrency),
  )

/**
 * Buys `amount` dollars of credit with one real x402 payment by `buyer`
 * (`POST /__402x/credits?amount=`: its 402, then the payment of its `accepts[0]`).
 * Resolves with the bearer token and the balance (atomic units) it then holds.
 */
export async function buyCredit({ port, amount, buyer }) {
  const path = `/__402x/credits?amount=${amount}`
  const terms = await fetchTerms(port, path, 'POST')
  const [payment] = presign({ terms, buyers: [buyer], count: 1 })
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'payment-signature': payment },
    signal: AbortSignal.timeout(30_000),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`buying credit: expected 200, got ${res.status}: ${text.slice(0, 300)}`)
  const body = JSON.parse(text)
  if (!body.token) throw new Error(`buying credit: no token in ${text.slice(0, 300)}`)
  return { token: body.token, available: BigInt(body.atomic.available) }
}

/** The credit left on `token` (atomic units), from `GET /__402x/credits`. */
export async function creditLeft({ port, token }) {
  const res = await fetch(`http://127.0.0.1:${port}/__402x/credits`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`reading the credit: expected 200, got ${res.status}: ${text.slice(0, 300)}`)
  return BigInt(JSON.parse(text).atomic.available)
}
