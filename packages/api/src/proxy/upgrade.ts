import type { IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { type Hop, upstreamRequestHeaders } from './forwardHeaders.js'

/** The most bytes of the upstream's answer head read while waiting for its `101`. */
const maxHead = 64 * 1024

/**
 * Whether an upgrade may pass: WebSocket only. After another protocol switch (`h2c`, TLS)
 * the connection carries HTTP again, and its requests (for any path) would reach the
 * upstream past the paywall.
 */
const isWebSocket = (upgrade: string | undefined) => upgrade?.trim().toLowerCase() === 'websocket'

/**
 * A WebSocket upgrade on a free route, passed through to the upstream: the request line and
 * headers sent on (with `Upgrade` and `Connection` kept for this one hop), then, once the
 * upstream answers `101 Switching Protocols`, bytes both ways until either side closes. Any
 * other answer is the last thing on the connection: it goes to the caller, and nothing the
 * caller sends after its request reaches the upstream (a server that ignored the `Upgrade`
 * would read those bytes as more requests, unpriced).
 */
export function passUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: URL, hop: Hop): void {
  if (!isWebSocket(req.headers.upgrade)) {
    const body = JSON.stringify({
      error: 'upgrade_refused',
      reason: 'upgrade_refused',
      message: 'only WebSocket upgrades pass through the proxy (Upgrade: websocket): send this request without Upgrade',
    })
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
    return
  }
  const port = Number(upstream.port || (upstream.protocol === 'https:' ? 443 : 80))
  const out = connect(port, upstream.hostname)
  const cut = () => {
    out.destroy()
    socket.destroy()
  }
  out.once('error', () => {
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    cut()
  })
  socket.once('error', cut)
  out.once('connect', () => {
    const headers = upstreamRequestHeaders(req.headers, hop, upstream.host)
    headers.connection = 'Upgrade'
    headers.upgrade = req.headers.upgrade
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`
    for (const [name, value] of Object.entries(headers)) {
      for (const one of Array.isArray(value) ? value : [value]) text += `${name}: ${one}\r\n`
    }
    out.write(`${text}\r\n`)
    let answer = Buffer.alloc(0)
    const onHead = (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk])
      const end = answer.indexOf('\r\n\r\n')
      if (end === -1) {
        if (answer.length > maxHead) cut()
        return
      }
      out.off('data', onHead)
      out.pause()
      socket.write(answer)
      if (/^HTTP\/1\.1 101 /.test(answer.toString('latin1', 0, Math.min(end + 2, 64)))) {
        // The caller's bytes after its request (a client may send frames at once) go now.
        if (head.length) out.write(head)
        socket.pipe(out)
      } else {
        // The rest of this answer, then the end: the upstream gets nothing more.
        out.end()
        socket.resume()
      }
      out.pipe(socket)
    }
    out.on('data', onHead)
  })
  // Ended rather than destroyed, so that what the upstream sent last still reaches the caller.
  out.once('close', () => socket.end())
  socket.once('finish', () => socket.destroy())
  socket.once('close', () => out.destroy())
}
