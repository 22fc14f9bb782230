import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { trackingHeaderNames } from '../paywall/callerView.js'
import { parseCreditToken } from '../paywall/credits.js'
import type { X402Caller } from '../paywall/decision.js'
import { isValidHost } from '../paywall/host.js'
import { faultResponse, refusalBody } from '../paywall/responses.js'
import type { RequestHead } from '../paywall/types.js'
import { bodyTooLarge, maxPricedBody } from '../paywall/webRequestInfo.js'
import { headerView } from './headerView.js'

/** A Node request as the Node adapters see it. */
export type NodeRequest = IncomingMessage & {
  originalUrl?: string | undefined
  ip?: string | undefined
  /** Who called a paid route and how it is paid (callerView.ts). */
  x402?: X402Caller
}

/**
 * A Web `Request` with the method, URL and headers of a Node request (no body: the
 * payment flow reads headers only, and the framework keeps the body for the handler).
 */
export function toWebRequest(req: IncomingMessage, path = req.url ?? '/', hint?: SchemeHint): Request {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    // HTTP/2 pseudo-headers are not valid Web header names.
    if (name.startsWith(':')) continue
    headers.append(name, raw[i + 1] as string)
  }
  return new Request(urlOf(req, path, hint), { method: req.method ?? 'GET', headers })
}

/** How an adapter knows the scheme: TLS on the socket, or its trusted-proxy setting (Express, Fastify `protocol`). */
export type SchemeHint = { protocol?: string | undefined }

/** `https` behind TLS or when the framework's trusted proxy says so; else `http`. */
export function schemeOf(req: IncomingMessage, hint?: SchemeHint): 'http' | 'https' {
  const protocol = hint?.protocol ?? (req as IncomingMessage & SchemeHint).protocol
  if (protocol === 'https' || protocol === 'http') return protocol
  return (req.socket as TLSSocket | undefined)?.encrypted === true ? 'https' : 'http'
}

/**
 * The URL a Node request was sent to: its scheme, its Host header (else `localhost`) and
 * `path`. Throws a `TypeError` for a Host that is not a valid `host[:port]`.
 */
function urlOf(req: IncomingMessage, path: string, hint?: SchemeHint): string {
  const host = req.headers.host
  if (!isValidHost(host)) throw new TypeError('the Host header is not a valid host[:port]')
  return `${schemeOf(req, hint)}://${host ?? 'localhost'}${path.startsWith('/') ? path : `/${path}`}`
}

/**
 * The core's view of a Node request (method, URL, headers) without a Web `Request`: a
 * header is read from `rawHeaders` as `Headers.get` would give it (repeated values joined
 * with `, `). Throws a `TypeError` when the Host header is not a valid `host[:port]` or
 * the path makes no URL, as {@link toWebRequest} does. `hint` gives the scheme a trusted
 * proxy reported (Fastify's `request.protocol`; Express's `req.protocol` is read itself).
 */
export function requestHead(req: IncomingMessage, path = req.url ?? '/', hint?: SchemeHint): RequestHead {
  const parsedUrl = new URL(urlOf(req, path, hint))
  // As `new Request(url, { method })` would: these methods and a URL with credentials make
  // no Web request (the adapters answer 400).
  if (/^(CONNECT|TRACE|TRACK)$/i.test(req.method ?? '')) throw new TypeError(`${req.method} is not allowed`)
  if (parsedUrl.username || parsedUrl.password) throw new TypeError('the URL includes credentials')
  return new NodeRequestHead(req, parsedUrl)
}

class NodeRequestHead implements RequestHead {
  readonly method: string
  readonly headers: { get(name: string): string | null }
  constructor(
    req: IncomingMessage,
    readonly parsedUrl: URL,
  ) {
    this.method = req.method ?? 'GET'
    this.headers = headerView(req)
  }
  get url() {
    return this.parsedUrl.href
  }
}

/**
 * Reads and parses a Node request's body into `req.body` when no body parser has (pricing
 * code reads `req.body`), the way body-parser does: JSON, form fields or text, with the raw
 * bytes in `req.rawBody`. `req._body` tells body-parser later on that the body is read.
 * Returns an error response when the body is too large or not what its type says.
 */
export async function readNodeBody(
  req: IncomingMessage & { body?: unknown; rawBody?: Buffer; _body?: boolean },
): Promise<Response | undefined> {
  if (req.body !== undefined || req._body || req.readableEnded) return undefined
  const length = Number(req.headers['content-length'] ?? 0)
  if (!length && !req.headers['transfer-encoding']) return undefined
  if (length > maxPricedBody) return tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > maxPricedBody) return tooLarge()
    chunks.push(chunk as Buffer)
  }
  const raw = Buffer.concat(chunks)
  const type = String(req.headers['content-type'] ?? '')
  const text = raw.toString('utf8')
  req.rawBody = raw
  req._body = true
  if (/[/+]json\b/i.test(type)) {
    try {
      req.body = text ? JSON.parse(text) : undefined
    } catch {
      return new Response(
        JSON.stringify(
          refusalBody('invalid_request', 'the body is not valid JSON: send JSON, or another content-type'),
        ),
        {
          status: 400,
          headers: { 'content-type': 'application/json' },
        },
      )
    }
  } else if (/application\/x-www-form-urlencoded/i.test(type)) {
    req.body = Object.fromEntries(new URLSearchParams(text))
  } else {
    req.body = text
  }
  return undefined
}

const tooLarge = () => faultResponse(bodyTooLarge())

/** Removes the tracking headers a caller sent: only the paywall writes them. */
export function stripTrackingHeaders(req: IncomingMessage) {
  for (const name of trackingHeaderNames) if (req.headers[name] !== undefined) delete req.headers[name]
}

/** `Authorization: Bearer x402c_…` on a request that carries no payment, else `undefined`. */
export function creditToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization
  if (!auth || req.method === 'HEAD' || req.method === 'OPTIONS') return undefined
  if (req.headers['payment-signature'] || req.headers['x-payment']) return undefined
  return parseCreditToken(auth)
}
