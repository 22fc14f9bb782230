import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { formatMoney, X402Error } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { meterSocket } from './meterSocket.js'
import { type Connect, payOnConnect } from './payOnConnect.js'
import { closeReason, refusalNotice, writeRefusal } from './refusal.js'
import { resolveWebSocket } from './resolveWebSocket.js'
import {
  paymentCloseCode,
  type ServerLike,
  type SocketLike,
  type WebSocketPayment,
  type X402WebSocketOptions,
} from './types.js'
import { upgradeHead, x402Protocol } from './upgradeHead.js'

/** `ws`'s `verifyClient` (the async form). */
export type VerifyClient = (
  info: { req: IncomingMessage },
  cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
) => void

export type X402WebSocket = {
  /**
   * Pays for a connection (or finds the payment made before its handshake) and, when
   * billed, meters its socket. In a `connection` handler the socket is found from `req`
   * (`ws` keeps it there); give it as `ws` to be explicit. Unpaid, an open socket gets an
   * `x402.payment_required` message and is closed with 4402.
   */
  verify(req: IncomingMessage, ws?: SocketLike): Promise<WebSocketPayment>
  /** For `new WebSocketServer({ verifyClient })`: an unpaid upgrade is answered 402 before the handshake. */
  verifyClient: VerifyClient
  /** For `new WebSocketServer({ handleProtocols })`: accepts the app's subprotocol (or `x402`), never a credential. */
  handleProtocols: (protocols: Set<string>) => string | false
  /**
   * Takes `server`'s upgrades for `wss` (made with `noServer: true`): unpaid ones get the
   * 402 on the raw socket, paid ones complete the handshake with the receipt headers and
   * reach `wss`'s `connection` handler metered. Returns a function that detaches it.
   */
  handleUpgrade(server: Server, wss: ServerLike, options?: { path?: string }): () => void
  /** The paywall behind it: settings, events (`payment`, `receipt` …), credit. */
  readonly paywall: Paywall
  close(): Promise<void>
}

/**
 * Paid WebSocket streams on `ws`: pay on connect (an `exact` payment or a credit token, in a
 * header, a subprotocol or the query), then, with `billing`, per message, per KB or per
 * second from credit, with a warning before it runs out and a 4402 close when it has.
 *
 * @example
 * const paid = createX402WebSocket({ billing: { perMessage: 0.0001 } })
 * const wss = new WebSocketServer({ port: 8080, verifyClient: paid.verifyClient, handleProtocols: paid.handleProtocols })
 * wss.on('connection', async (ws, req) => {
 *   const payment = await paid.verify(req)
 *   if (payment.verified) ws.send('tick')
 * })
 */
export function createX402WebSocket(options: X402WebSocketOptions): X402WebSocket {
  const resolved = resolveWebSocket(options)
  const { paywall } = resolved
  const connects = new WeakMap<IncomingMessage, Promise<Connect>>()
  /** Whether the 101 answer carried the payment's headers (then no `x402.credit` message is needed). */
  const headered = new WeakSet<IncomingMessage>()
  const bound = new WeakSet<Connect>()

  const connectFor = (req: IncomingMessage): Promise<Connect> => {
    let found = connects.get(req)
    if (!found) {
      found = payOnConnect(resolved, req).then((connect) => {
        // A billed connect never bound to a socket (the app never metered it): nothing is charged.
        if (connect.session) req.socket?.once('close', () => bound.has(connect) || void connect.undelivered?.())
        return connect
      })
      connects.set(req, found)
    }
    return found
  }

  const bind = (connect: Connect, req: IncomingMessage, ws: SocketLike) => {
    const { payment, session } = connect
    if (!payment.verified || bound.has(connect)) return
    bound.add(connect)
    if (payment.token && !headered.has(req) && ws.readyState === 1) {
      ws.send(
        JSON.stringify({
          type: 'x402.credit',
          token: payment.token,
          balance: formatMoney(session ? session.left() + session.available : 0n, paywall.config.asset.decimals),
          message:
            'your deposit is credit on this account: send Authorization: Bearer <token> to connect again or top up',
        }),
      )
    }
    if (!session || !resolved.billing) return
    payment.meter = meterSocket(ws, {
      session,
      unit: resolved.billing.unit,
      decimals: paywall.config.asset.decimals,
      warnBelow: resolved.billing.warnBelow,
      topUp: connect.topUp,
      onClosed: (receipt) => {
        try {
          paywall.events.emit('receipt', { ...receipt, resource: resourceOf(req), account: payment.account ?? '' })
        } catch (error) {
          paywall.events.emit('error', error)
        }
      },
      onError: (error) => paywall.events.emit('error', error),
    })
  }

  const verify: X402WebSocket['verify'] = async (req, given) => {
    const connect = await connectFor(req)
    const ws = given ?? socketOf(req)
    const { payment } = connect
    if (!payment.verified) {
      if (ws?.readyState === 1) {
        ws.send(JSON.stringify(refusalNotice(payment)))
        ws.close(paymentCloseCode, closeReason(payment.reason, payment.message))
      }
      return payment
    }
    if (!ws) {
      if (connect.session) {
        await connect.undelivered?.()
        throw new X402Error('invalid_config', {
          message:
            'x402WebSocket.verify(req) found no socket to bill: call it in the `connection` handler of a `ws` WebSocketServer, or pass the socket: verify(req, ws)',
        })
      }
      return payment
    }
    bind(connect, req, ws)
    return payment
  }

  return {
    verify,
    verifyClient(info, cb) {
      connectFor(info.req).then(
        async ({ payment }) => {
          if (payment.verified) return cb(true)
          const body = await payment.response.clone().text()
          const headers: Record<string, string> = {}
          payment.response.headers.forEach((value, name) => {
            if (name !== 'content-length') headers[name === 'content-type' ? 'Content-Type' : name] = value
          })
          cb(false, payment.status, body, headers)
        },
        () => cb(false, 503),
      )
    },
    handleProtocols: x402Protocol,
    handleUpgrade(server, wss, upgradeOptions = {}) {
      const onHeaders = (headers: string[], req: IncomingMessage) => {
        const connect = connects.get(req)
        if (!connect) return
        // `connects` holds the settled promise by now: its headers were stashed below.
        for (const [name, value] of stashed.get(req) ?? []) headers.push(`${name}: ${value}`)
        headered.add(req)
      }
      const stashed = new WeakMap<IncomingMessage, [string, string][]>()
      wss.on('headers', onHeaders)
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (upgradeOptions.path && new URL(req.url ?? '/', 'http://x').pathname !== upgradeOptions.path) return
        connectFor(req)
          .then(async (connect) => {
            const { payment } = connect
            if (!payment.verified) return writeRefusal(socket, payment.response)
            if (socket.destroyed) return void (await connect.undelivered?.())
            stashed.set(req, payment.headers)
            wss.handleUpgrade(req, socket, head, (ws: SocketLike) => {
              bind(connect, req, ws)
              wss.emit('connection', ws, req)
            })
          })
          .catch((error) => {
            paywall.events.emit('error', error)
            socket.destroy()
          })
      }
      server.on('upgrade', onUpgrade)
      return () => {
        server.off('upgrade', onUpgrade)
        ;(wss as unknown as { off(e: string, l: unknown): void }).off?.('headers', onHeaders)
      }
    },
    paywall,
    close: () => paywall.close(),
  }
}

/** The path of an upgrade request, without its query (which may carry a credit token or a payment). */
function resourceOf(req: IncomingMessage): string {
  try {
    return upgradeHead(req).parsedUrl?.pathname ?? '/'
  } catch {
    return '/'
  }
}

/** The `ws` WebSocket of an upgrade request, which `ws` (8.x) keeps on the request's socket. */
function socketOf(req: IncomingMessage): SocketLike | undefined {
  const socket = req.socket as unknown as Record<symbol, unknown> | undefined
  if (!socket) return undefined
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket')
  const ws = key ? socket[key] : undefined
  return ws && typeof (ws as SocketLike).send === 'function' ? (ws as SocketLike) : undefined
}
