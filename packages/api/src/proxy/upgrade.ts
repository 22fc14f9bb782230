import type { IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { type Hop, upstreamRequestHeaders } from './forwardHeaders.js'

/**
 * A WebSocket (or other) upgrade on a free route, passed through to the upstream: the
 * request line and headers sent on (with `Upgrade` and `Connection` kept for this one
 * hop), then bytes both ways until either side closes.
 */
export function passUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: URL, hop: Hop): void {
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
    if (req.headers.upgrade) headers.upgrade = req.headers.upgrade
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`
    for (const [name, value] of Object.entries(headers)) {
      for (const one of Array.isArray(value) ? value : [value]) text += `${name}: ${one}\r\n`
    }
    out.write(`${text}\r\n`)
    if (head.length) out.write(head)
    out.pipe(socket)
    socket.pipe(out)
  })
  out.once('close', () => socket.destroy())
  socket.once('close', () => out.destroy())
}
