import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { formatMoney, X402Error } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { checkUpgrade } from './checkUpgrade.js'
import { Deliveries, shutdownReason, socketOf } from './deliveries.js'
import { meterSocket } from './meterSocket.js'
import { type Connect, payOnConnect } from './payOnConnect.js'
import { closeReason, refusal, refusalNotice, writeRefusal } from './refusal.js'
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

/** What `verify` answers for a connect undone while it was paid: not a paid connection. */
const undeliveredRefusal = () =>
  refusal(
    410,
    'undelivered',
    'the connection closed while it was paid: nothing was charged for it; connect again (the same payment is served once, with a sign-in)',
  )

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
  const report = (error: unknown) => paywall.events.emit('error', error)
  const deliveries = new Deliveries(report)
  const connects = new WeakMap<IncomingMessage, Promise<Connect>>()
  /** Whether the 101 answer carried the payment's headers (then no `x402.credit` message is needed). */
  const headered = new WeakSet<IncomingMessage>()
  const bound = new WeakSet<Connect>()

  const connectFor = (req: IncomingMessage): Promise<Connect> => {
    let found = connects.get(req)
    if (!found) {
      found = deliveries.closing
        ? shuttingDown()
        : deliveries.track(
            payOnConnect(resolved, req).then(async (connect) => {
              deliveries.expect(connect, req)
              if (!deliveries.closing || !connect.payment.verified) return connect
              // Paid as the paywall closes: undone before its stores close, and refused.
              await deliveries.undo(connect)
              return shuttingDown()
            }),
          )
      connects.set(req, found)
    }
    return found
  }

  /** The socket of a paid connect: metered when billed, told its token; or the connect undone if it is not open. */
  /** Binds a paid connect to its open socket; false when the connect was undone instead. */
  const bind = (connect: Connect, req: IncomingMessage, ws: SocketLike): boolean => {
    const { payment, session } = connect
    if (!payment.verified) return false
    if (bound.has(connect)) return true
    if (ws.readyState !== 1 || (deliveries.closing && session) || !deliveries.deliver(connect)) {
      // The caller left while it paid (or the server is closing): nothing is charged for it.
      if (ws.readyState === 1) ws.close(1001, shutdownReason)
      void deliveries.undo(connect)
      return false
    }
    bound.add(connect)
    if (payment.token && !headered.has(req)) {
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
    if (!session || !resolved.billing) return true
    const meter = meterSocket(ws, {
      session,
      unit: resolved.billing.unit,
      decimals: paywall.config.asset.decimals,
      warnBelow: resolved.billing.warnBelow,
      topUp: connect.topUp,
      onClosed: (receipt) => {
        try {
          paywall.events.emit('receipt', { ...receipt, resource: resourceOf(req), account: payment.account ?? '' })
        } catch (error) {
          report(error)
        }
      },
      onError: report,
    })
    payment.meter = meter.view
    deliveries.meter({ ws, end: meter.end, closed: meter.view.closed })
    return true
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
      if (deliveries.isUndone(connect)) return undeliveredRefusal()
      if (connect.session) {
        await deliveries.undo(connect)
        throw new X402Error('invalid_config', {
          message:
            'x402WebSocket.verify(req) found no socket to bill: call it in the `connection` handler of a `ws` WebSocketServer, or pass the socket: verify(req, ws)',
        })
      }
      return payment
    }
    // A connect undone while it was paid (the caller left) is not a paid connection: the app
    // must not act on it (the payment is flagged undelivered, or its credit given back).
    if (!bind(connect, req, ws)) return undeliveredRefusal()
    return payment
  }

  return {
    verify,
    verifyClient(info, cb) {
      connectFor(info.req).then(
        async (connect) => {
          const { payment } = connect
          if (payment.verified) {
            cb(true)
            // `ws` completes the handshake in `cb` (or has aborted it): an unbilled connect is delivered once open.
            return deliveries.opened(connect)
          }
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
        // What `ws` would refuse is refused before anything is paid.
        const malformed = checkUpgrade(req, wss)
        if (malformed) {
          void refusal(malformed.status, 'invalid_request', malformed.message).then((r) =>
            writeRefusal(socket, r.response),
          )
          return
        }
        connectFor(req)
          .then(async (connect) => {
            const { payment } = connect
            if (!payment.verified) return writeRefusal(socket, payment.response)
            if (socket.destroyed) return void (await deliveries.undo(connect))
            stashed.set(req, payment.headers)
            // `ws` may still abort it (its server closed, say): the connect is then undone when the socket closes.
            wss.handleUpgrade(req, socket, head, (ws: SocketLike) => {
              bind(connect, req, ws)
              wss.emit('connection', ws, req)
            })
          })
          .catch((error) => {
            report(error)
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
    async close() {
      // Billed sockets closed (1001) and their charges written, paid connects not delivered undone: then the stores.
      await deliveries.close()
      await paywall.close()
    },
  }
}

/** The refusal of a connect while the paywall closes. */
const shuttingDown = async (): Promise<Connect> => ({
  payment: await refusal(
    503,
    'store_unavailable',
    'this WebSocket paywall is shutting down: connect again in a moment',
  ),
  topUp: '',
})

/** The path of an upgrade request, without its query (which may carry a credit token or a payment). */
function resourceOf(req: IncomingMessage): string {
  try {
    return upgradeHead(req).parsedUrl?.pathname ?? '/'
  } catch {
    return '/'
  }
}
