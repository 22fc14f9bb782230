import type { IncomingMessage } from 'node:http'
import { headers as x402Headers } from '@402x/core'
import { requestHead } from '../node/nodeRequest.js'
import type { RequestHead } from '../paywall/types.js'

/**
 * How a browser (which cannot set headers on a WebSocket) or a client that cannot set
 * headers pays on connect: the offered subprotocols `x402-payment.<base64url>` (the
 * `PAYMENT-SIGNATURE` JSON, base64url) and `x402-token.<x402c_…>`, or the query parameters
 * `x402-payment` and `x402-token`. The server echoes `x402` (or the app's own protocol).
 */
export const wsCredentials = {
  protocol: 'x402',
  paymentProtocol: 'x402-payment.',
  tokenProtocol: 'x402-token.',
  paymentParam: 'x402-payment',
  tokenParam: 'x402-token',
} as const

/** base64url (the subprotocol and query encoding) → base64 (the header's). */
const toBase64 = (value: string) => {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/')
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4)
}

/** The offered subprotocols of an upgrade request. */
export const offeredProtocols = (req: IncomingMessage): string[] =>
  (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)

/**
 * A request target without the x402 credentials of the query (`x402-payment`, `x402-token`),
 * its path and other parameters exactly as sent: what the app's handler, its logs and any
 * proxy see of an upgrade paid that way (a credit token in a URL is spendable by whoever
 * reads it).
 *
 * @example
 * withoutCredentials('/stream?room=1&x402-token=x402c_abc') // '/stream?room=1'
 */
export function withoutCredentials(target: string): string {
  const query = target.indexOf('?')
  if (query === -1) return target
  const names: string[] = [wsCredentials.paymentParam, wsCredentials.tokenParam]
  const nameOf = (part: string) => {
    const raw = part.split('=', 1)[0] as string
    try {
      return decodeURIComponent(raw.replace(/\+/g, ' '))
    } catch {
      return raw
    }
  }
  const kept = target
    .slice(query + 1)
    .split('&')
    .filter((part) => !names.includes(nameOf(part)))
  return kept.length ? `${target.slice(0, query)}?${kept.join('&')}` : target.slice(0, query)
}

/**
 * The core's view of an upgrade request: its headers, with a payment or credit token given
 * as a subprotocol or in the query moved to `PAYMENT-SIGNATURE` / `Authorization` (a header
 * sent wins), and the x402 query parameters taken off the URL. Throws a `TypeError` for a
 * Host or path that makes no URL.
 */
export function upgradeHead(req: IncomingMessage): RequestHead {
  const head = requestHead(req)
  const url = head.parsedUrl as URL
  let payment = url.searchParams.get(wsCredentials.paymentParam) ?? undefined
  let token = url.searchParams.get(wsCredentials.tokenParam) ?? undefined
  for (const offered of offeredProtocols(req)) {
    if (offered.startsWith(wsCredentials.paymentProtocol))
      payment ??= offered.slice(wsCredentials.paymentProtocol.length)
    else if (offered.startsWith(wsCredentials.tokenProtocol))
      token ??= offered.slice(wsCredentials.tokenProtocol.length)
  }
  if (payment === undefined && token === undefined) return head
  url.searchParams.delete(wsCredentials.paymentParam)
  url.searchParams.delete(wsCredentials.tokenParam)
  const extra = new Map<string, string>()
  if (payment !== undefined) extra.set(x402Headers.paymentSignature.toLowerCase(), toBase64(payment))
  if (token !== undefined) extra.set('authorization', `Bearer ${token}`)
  const base = head.headers
  return {
    method: head.method,
    url: url.href,
    parsedUrl: url,
    headers: {
      get(name: string) {
        const own = base.get(name)
        if (own !== null) return own
        const lower = name.toLowerCase()
        // A v1 X-PAYMENT header sent by the caller wins over a payment given another way.
        if (lower === x402Headers.paymentSignature.toLowerCase() && base.get(x402Headers.v1Payment)) return null
        return extra.get(lower) ?? null
      },
    },
  }
}

/**
 * The subprotocol to accept: the first offered that is not an x402 credential (the app's
 * own, or `x402`), else none. For `ws`'s `handleProtocols` option.
 *
 * @example
 * new WebSocketServer({ port: 8080, handleProtocols: x402Protocol })
 */
export function x402Protocol(protocols: Set<string>): string | false {
  for (const p of protocols) {
    if (!p.startsWith(wsCredentials.paymentProtocol) && !p.startsWith(wsCredentials.tokenProtocol)) return p
  }
  return false
}
