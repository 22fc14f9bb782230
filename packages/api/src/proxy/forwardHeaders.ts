import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { trackingHeaderNames } from '../paywall/callerView.js'

/** Hop-by-hop headers (RFC 9110 §7.6.1): the connection's, never sent on. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Answered by the proxy's own server (its 100 Continue to the caller); undici refuses to
  // send it, so a caller's `Expect: 100-continue` (curl's, for large bodies) made a 502.
  'expect',
])

/**
 * Headers that make some servers route a request as another method or path than the one
 * the paywall priced (Express's method-override, IIS and Symfony's X-Original-URL …): a
 * caller could send them to reach a priced handler through a free request. Never sent on.
 */
const rerouting = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-original-method',
  'x-rewrite-url',
]

/** The payment and credit headers: 402x's, not the upstream's. */
const paymentHeaders = ['payment-signature', 'x-payment', 'x-402-payment', 'sign-in-with-x']

/** What the proxy tells the upstream itself: a caller's copies are never sent on. */
const owned = new Set([
  ...paymentHeaders,
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
])

const tracking = new Set<string>(trackingHeaderNames)
const stripped = new Set([...trackingHeaderNames, ...rerouting])

/**
 * A header name with `_` read as `-`, as WSGI, CGI and PHP servers read it (both spellings
 * become `HTTP_X_402X_CONSUMER`): `X_402x_Consumer` would pass for `X-402x-Consumer`.
 */
const dashed = (name: string) => (name.includes('_') ? name.replace(/_/g, '-') : name)

/**
 * Removes what a caller may not send on: tracking copies and rerouting headers, in any
 * spelling a server may read as theirs. Always, free routes too.
 */
export function stripCallerHeaders(req: IncomingMessage): void {
  const headers = req.headers
  for (const name in headers) if (stripped.has(dashed(name))) delete headers[name]
}

/** What the proxy knows of the hop: the caller's address and scheme, and the key header to drop. */
export type Hop = { ip: string | undefined; proto: 'http' | 'https'; keyHeader: string | undefined }

/**
 * The request headers the upstream gets: the caller's, less hop-by-hop headers, payment and
 * credit headers and the API key; with `X-Forwarded-For/-Proto/-Host` and `Forwarded`
 * (RFC 7239) saying who called; `Host` is the upstream's.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  hop: Hop,
  upstreamHost: string,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  const listed = connectionListed(headers.connection)
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hopByHop.has(name) || name === 'host') continue
    // The tracking headers here are the paywall's (a caller's own were removed): a caller's
    // `Connection: x-402x-consumer` does not take them away from the upstream.
    if (listed.has(name) && !tracking.has(name)) continue
    // The proxy's own headers (set below) and 402x's, in a spelling a server reads as them.
    if (name.includes('_') && owned.has(dashed(name))) continue
    if (paymentHeaders.includes(name) || name === hop.keyHeader) continue
    // A credit token (`x402c_`) and an API key as a bearer token (`x402_live_`,
    // `x402_test_`, which the paywall takes too) are 402x's; any other Authorization is
    // the upstream's.
    if (name === 'authorization' && /^Bearer[ \t]+x402(?:c_|_live_|_test_)/i.test(String(value))) continue
    out[name] = value
  }
  const host = headers.host ?? ''
  const forwardedFor = headers['x-forwarded-for']
  out['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${hop.ip ?? 'unknown'}` : (hop.ip ?? 'unknown')
  out['x-forwarded-proto'] = hop.proto
  if (host) out['x-forwarded-host'] = host
  const node = hop.ip?.includes(':') ? `"[${hop.ip}]"` : (hop.ip ?? 'unknown')
  const forwarded = `for=${node};proto=${hop.proto}${host ? `;host="${host.replace(/["\\]/g, '')}"` : ''}`
  out.forwarded = headers.forwarded ? `${headers.forwarded}, ${forwarded}` : forwarded
  out.host = upstreamHost
  return out
}

/** The response headers the caller gets: the upstream's, less hop-by-hop ones. */
export function callerResponseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  const listed = connectionListed(headers.connection)
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || hopByHop.has(name) || listed.has(name)) continue
    out[name] = value
  }
  return out
}

/** The header names a `Connection` header lists: hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> {
  if (!value) return new Set()
  const text = Array.isArray(value) ? value.join(',') : value
  return new Set(
    text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  )
}
