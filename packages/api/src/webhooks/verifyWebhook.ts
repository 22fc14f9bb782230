import { timingSafeEqual } from 'node:crypto'
import { secretKey, signWebhook } from './signWebhook.js'

/** What `verifyWebhook` takes. */
export type VerifyWebhookInput = {
  /** The raw body, exactly as received (not re-serialized JSON). */
  payload: string | Uint8Array
  /** The request's headers: a `Headers`, or Node's `req.headers`. */
  headers: Headers | Record<string, string | string[] | undefined>
  /** The endpoint's `whsec_` secret. */
  secret: string
  /** How far the timestamp may be from now, in seconds. @default 300 */
  toleranceSeconds?: number
  /** The clock, ms epoch. @default Date.now */
  now?: number
}

/** The event a verified webhook carries. */
export type VerifiedWebhook = {
  ok: true
  id: string
  type: string
  timestamp: string
  data: Record<string, unknown>
}

/** Why a webhook was refused. */
export type RefusedWebhook = {
  ok: false
  reason: 'missing_headers' | 'invalid_secret' | 'timestamp_out_of_range' | 'invalid_signature' | 'invalid_payload'
  message: string
}

const header = (headers: VerifyWebhookInput['headers'], name: string): string | undefined => {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = headers[name] ?? headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Checks a webhook 402x sent (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), and gives its event. A refusal is data, with a reason code.
 *
 * @example
 * app.post('/hooks', express.text({ type: '*\/*' }), (req, res) => {
 *   const event = verifyWebhook({ payload: req.body, headers: req.headers, secret: process.env.X402_WEBHOOK_SECRET! })
 *   if (!event.ok) return res.status(400).json(event)
 *   res.sendStatus(204)
 * })
 */
export function verifyWebhook(input: VerifyWebhookInput): VerifiedWebhook | RefusedWebhook {
  const id = header(input.headers, 'webhook-id')
  const timestamp = header(input.headers, 'webhook-timestamp')
  const signatures = header(input.headers, 'webhook-signature')
  if (!id || !timestamp || !signatures) {
    return {
      ok: false,
      reason: 'missing_headers',
      message: 'webhook-id, webhook-timestamp and webhook-signature are required: pass the request headers as received',
    }
  }
  const key = secretKey(input.secret)
  if (!key)
    return { ok: false, reason: 'invalid_secret', message: 'the secret must be the whsec_… value of the endpoint' }
  const seconds = Number(timestamp)
  const tolerance = input.toleranceSeconds ?? 300
  if (!/^\d+$/.test(timestamp) || Math.abs((input.now ?? Date.now()) / 1000 - seconds) > tolerance) {
    return {
      ok: false,
      reason: 'timestamp_out_of_range',
      message: `webhook-timestamp ${timestamp.slice(0, 20)} is more than ${tolerance} s from now: a replay, or a clock off`,
    }
  }
  const body = typeof input.payload === 'string' ? input.payload : Buffer.from(input.payload).toString('utf8')
  const expected = Buffer.from(signWebhook({ secret: key, id, timestamp: seconds, body }))
  const matches = signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
  if (!matches) {
    return {
      ok: false,
      reason: 'invalid_signature',
      message: 'no signature matches: check the secret, and pass the raw body (not parsed and re-serialized JSON)',
    }
  }
  try {
    const event = JSON.parse(body) as { type: string; timestamp: string; data: Record<string, unknown> }
    return { ok: true, id, type: event.type, timestamp: event.timestamp, data: event.data }
  } catch {
    return { ok: false, reason: 'invalid_payload', message: 'the body is not JSON' }
  }
}
