import type { IncomingMessage } from 'node:http'

/** `ws`'s test of a `Sec-WebSocket-Key`: 16 random bytes, base64. */
const keyPattern = /^[+/0-9A-Za-z]{22}==$/
/** RFC 6455 §4.1: subprotocols are comma-separated HTTP tokens. */
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * What `ws`'s `handleUpgrade` would refuse in this upgrade request (with 400 or 405), checked
 * before the connect is paid, so that a handshake `ws` is bound to abort is never charged:
 * the method, the `Upgrade`, `Sec-WebSocket-Key` and `Sec-WebSocket-Version` headers, the
 * subprotocol list, and the server's own `path` (`shouldHandle`). `undefined` when `ws`
 * accepts it. Anything `ws` refuses after this is still caught: the connect is undone.
 */
export function checkUpgrade(
  req: IncomingMessage,
  wss: { shouldHandle?(req: IncomingMessage): unknown },
): { status: number; message: string } | undefined {
  const { headers } = req
  if (req.method !== 'GET') return { status: 405, message: 'a WebSocket upgrade is a GET request' }
  if (headers.upgrade?.toLowerCase() !== 'websocket') {
    return { status: 400, message: 'the Upgrade header must be "websocket"' }
  }
  const key = headers['sec-websocket-key']
  if (key === undefined || !keyPattern.test(key)) {
    return { status: 400, message: 'the Sec-WebSocket-Key header is missing or is not 16 bytes in base64' }
  }
  const version = Number(headers['sec-websocket-version'])
  if (version !== 13 && version !== 8) {
    return { status: 400, message: 'the Sec-WebSocket-Version header must be 13 (or 8)' }
  }
  const protocols = headers['sec-websocket-protocol']
  if (protocols !== undefined) {
    const list = protocols.split(',').map((p) => p.trim())
    if (list.some((p) => !tokenPattern.test(p)) || new Set(list).size !== list.length) {
      return {
        status: 400,
        message: 'the Sec-WebSocket-Protocol header must list distinct tokens, separated by commas',
      }
    }
  }
  // (A subclass's asynchronous answer is left to `ws` itself.)
  if (wss.shouldHandle && wss.shouldHandle(req) === false) {
    return { status: 400, message: 'this WebSocket server does not serve this path' }
  }
  return undefined
}
