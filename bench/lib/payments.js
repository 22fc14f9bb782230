// Payments are signed before a timed run, so the run measures the server, not the client.
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema } from '@402x/core'

/** Asks the server for its terms: one unpaid request, its 402 and decoded PAYMENT-REQUIRED. */
export async function fetchTerms(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) })
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
