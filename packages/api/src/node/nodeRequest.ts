import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'

/**
 * A Web `Request` with the method, URL and headers of a Node request (no body: the
 * payment flow reads headers only, and the framework keeps the body for the handler).
 */
export function toWebRequest(req: IncomingMessage, path = req.url ?? '/'): Request {
  const secure = (req.socket as TLSSocket).encrypted === true
  const host = req.headers.host ?? 'localhost'
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    // HTTP/2 pseudo-headers are not valid Web header names.
    if (name.startsWith(':')) continue
    headers.append(name, raw[i + 1] as string)
  }
  const method = req.method ?? 'GET'
  return new Request(`${secure ? 'https' : 'http'}://${host}${path.startsWith('/') ? path : `/${path}`}`, {
    method,
    headers,
  })
}
