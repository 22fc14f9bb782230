import { X402Error } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { createX402WebSocket, type X402WebSocket } from './createX402WebSocket.js'
import type { WebSocketBilling, X402WebSocketOptions } from './types.js'
import { x402Protocol } from './upgradeHead.js'

/** The options of the ready-made `x402WebSocket` from the environment: `X402_WS_PRICE`, `X402_WS_PER_MESSAGE` … */
export function webSocketOptionsFromEnv(env: Record<string, string | undefined> = process.env): X402WebSocketOptions {
  const perMessage = env.X402_WS_PER_MESSAGE
  const perKB = env.X402_WS_PER_KB
  const perSecond = env.X402_WS_PER_SECOND
  const billing: WebSocketBilling | undefined = perMessage
    ? { perMessage }
    : perKB
      ? { perKB }
      : perSecond
        ? { perSecond }
        : undefined
  const price = env.X402_WS_PRICE
  if (!billing && !price) {
    throw new X402Error('invalid_config', {
      message:
        'x402WebSocket has no price: call x402WebSocket.configure({ price: 0.01 }) (or { billing: { perMessage: 0.0001 } }) at start-up, use createX402WebSocket(options), or set X402_WS_PRICE / X402_WS_PER_MESSAGE / X402_WS_PER_KB / X402_WS_PER_SECOND',
    })
  }
  return { ...(price ? { price } : {}), ...(billing ? { billing } : {}) }
}

let configured: X402WebSocket | undefined
const current = () => {
  // payTo, network and facilitator come from the environment, `402x.config.json` or a running `402x dev`, as for x402Middleware.
  configured ??= createX402WebSocket(webSocketOptionsFromEnv())
  return configured
}

/**
 * The ready-made WebSocket paywall of the seed: `x402WebSocket.verify(req)` in a `ws`
 * `connection` handler. Its prices come from `configure(options)`, else from the
 * environment (`X402_WS_PRICE`, `X402_WS_PER_MESSAGE`, `X402_WS_PER_KB`,
 * `X402_WS_PER_SECOND`); payTo, network and facilitator as for `x402Middleware`.
 *
 * @example
 * x402WebSocket.configure({ price: 0.01, billing: { perMessage: 0.0001 } })
 * wss.on('connection', async (ws, req) => {
 *   const payment = await x402WebSocket.verify(req)
 *   if (payment.verified) ws.send('paid')
 * })
 */
export const x402WebSocket: X402WebSocket & {
  /** Sets the prices (and any paywall option); replaces an earlier configuration. */
  configure(options: X402WebSocketOptions): X402WebSocket
} = {
  configure(options) {
    const previous = configured
    configured = createX402WebSocket(options)
    void previous?.close()
    return configured
  },
  verify: (req, ws) => current().verify(req, ws),
  verifyClient: (info, cb) => current().verifyClient(info, cb),
  handleProtocols: x402Protocol,
  handleUpgrade: (server, wss, options) => current().handleUpgrade(server, wss, options),
  get paywall(): Paywall {
    return current().paywall
  },
  async close() {
    const open = configured
    configured = undefined
    await open?.close()
  },
}
