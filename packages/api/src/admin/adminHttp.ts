import { X402Error } from '@402x/core'
import { errorResponse, faultResponse } from '../paywall/responses.js'

/** An answer of the admin API; a bigint (atomic units) becomes a string, never a crash. */
export function adminJson(status: number, body: unknown): Response {
  const text = JSON.stringify(body, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}

/** A refusal of bad input, thrown by a handler and answered 400 (or `status`). */
export class AdminInputError extends X402Error {
  constructor(
    message: string,
    readonly answer: { status: number; code: string } = { status: 400, code: 'invalid_request' },
  ) {
    super('invalid_request', { message })
  }
}

/** The answer for an error thrown by a handler: bad input 400 (its message), a fault 503. */
export function adminError(error: unknown): Response {
  if (error instanceof AdminInputError) return errorResponse(error.answer.status, error.answer.code, error.message)
  if (error instanceof X402Error && ['invalid_request', 'invalid_money', 'invalid_config'].includes(error.code)) {
    return errorResponse(400, error.code, error.message)
  }
  return faultResponse(error)
}

/**
 * The request's JSON body: read from a Web `Request`, or what a Node adapter parsed into
 * the framework request's `body`. An empty body is `{}`.
 */
export async function readJson(request: unknown, frameworkReq: unknown): Promise<Record<string, unknown>> {
  let body: unknown
  if (request instanceof Request) body = await request.text()
  else body = (frameworkReq as { body?: unknown } | undefined)?.body
  if (body instanceof Uint8Array) body = Buffer.from(body).toString('utf8')
  if (typeof body === 'string') {
    if (!body.trim()) return {}
    try {
      body = JSON.parse(body)
    } catch {
      throw new AdminInputError('the body is not valid JSON: send a JSON object with Content-Type: application/json')
    }
  }
  if (body === undefined || body === null) return {}
  if (typeof body !== 'object' || Array.isArray(body)) throw new AdminInputError('the body must be a JSON object')
  return body as Record<string, unknown>
}

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A duration: milliseconds as a number, or `"30d"`, `"12h"`, `"15m"`, `"90s"`, `"500ms"`, `"2w"`. */
export function parseDuration(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value
  const match = typeof value === 'string' ? /^(\d+)(ms|s|m|h|d|w)$/.exec(value.trim()) : null
  const ms = match ? Number(match[1]) * (units[match[2] as string] as number) : 0
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new AdminInputError(
      `${name} is ${JSON.stringify(value)}: give a duration such as "30d", "12h" or "15m", or milliseconds`,
    )
  }
  return ms
}

/** A point in time: an ISO date (`2026-01-31`, `2026-01-31T12:00:00Z`) or ms since the epoch. */
export function parseInstant(value: unknown, name: string): number {
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : typeof value === 'string'
          ? Date.parse(value)
          : Number.NaN
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new AdminInputError(
      `${name} is ${JSON.stringify(value)}: give an ISO date such as "2026-01-31T00:00:00Z", or milliseconds since 1970`,
    )
  }
  return ms
}

/** The current UTC month, [its first instant, the next month's). */
export function thisUtcMonth(now = Date.now()): { from: number; to: number } {
  const date = new Date(now)
  const from = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
  const to = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
  return { from, to }
}
