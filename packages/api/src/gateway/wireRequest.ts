import { decodeHeader, headers as names, PaymentPayloadSchema } from '@402x/core'
import { z } from 'zod'

/** What `POST /__402x/decide` takes (docs/decision-service.md). */
export const DecideSchema = z.object({
  method: z.string().regex(/^[A-Za-z]+$/, 'an HTTP method such as GET'),
  url: z.string().regex(/^https?:\/\//, 'the full URL the caller used, http(s)://host/path?query'),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  body: z.string().optional(),
  bodyBase64: z.string().optional(),
  ip: z.string().optional(),
  route: z
    .object({
      price: z.union([z.number(), z.string()]).optional(),
      pricePerToken: z.union([z.number(), z.string()]).optional(),
      max: z.union([z.number(), z.string()]).optional(),
      description: z.string().optional(),
      mimeType: z.string().optional(),
    })
    .strict()
    .optional(),
  pattern: z.string().optional(),
})
export type DecideBody = z.infer<typeof DecideSchema>

/** What `POST /__402x/finish` takes. */
export const FinishSchema = z.object({
  ticket: z.string(),
  status: z.number().int().min(100).max(599),
  units: z.number().nonnegative().optional(),
  body: z.string().optional(),
  /** The `body`'s content type, as the handler answered it. */
  contentType: z.string().optional(),
})

/** What `POST /__402x/abort` takes. */
export const AbortSchema = z.object({ ticket: z.string(), reason: z.string().optional() })

/**
 * The caller's request as a Web `Request`, as the core reads it. The seed's `X-402-Payment`
 * is read as the payment it carries (`PAYMENT-SIGNATURE`, or v1's `X-PAYMENT`), unless the
 * request has one of those already.
 */
export function requestOf(body: DecideBody): Request {
  const out = new Headers()
  for (const [name, value] of Object.entries(body.headers)) {
    // Connection-level headers are the app server's, not the caller's.
    if (/^(content-length|transfer-encoding|connection)$/i.test(name)) continue
    out.set(name, Array.isArray(value) ? value.join(', ') : value)
  }
  const seed = out.get('x-402-payment')
  if (seed && !out.has(names.paymentSignature) && !out.has(names.v1Payment)) {
    out.set(decodeHeader(seed, PaymentPayloadSchema).ok ? names.paymentSignature : names.v1Payment, seed)
  }
  out.delete('x-402-payment')
  const method = body.method.toUpperCase()
  const withBody = method !== 'GET' && method !== 'HEAD'
  const bytes =
    body.bodyBase64 !== undefined ? Buffer.from(body.bodyBase64, 'base64') : body.body !== undefined ? body.body : null
  return new Request(body.url, { method, headers: out, ...(withBody && bytes !== null ? { body: bytes } : {}) })
}
