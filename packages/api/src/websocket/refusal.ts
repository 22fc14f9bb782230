import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { headers as x402Headers } from '@402x/core'
import { errorResponse } from '../paywall/responses.js'
import type { TopUpOffer, WebSocketNotice, WebSocketPayment } from './types.js'

type Refused = Extract<WebSocketPayment, { verified: false }>

/** A refused connect, from the paywall's answer: its status, reason code and message. */
export async function refusalOf(response: Response): Promise<Refused> {
  const text = await response.clone().text()
  let body: { reason?: unknown; error?: unknown; message?: unknown; credits?: unknown } = {}
  try {
    body = JSON.parse(text)
  } catch {}
  const reason =
    typeof body.reason === 'string'
      ? body.reason
      : response.status === 402
        ? 'payment_required'
        : typeof body.error === 'string' && /^[a-z_]+$/.test(body.error)
          ? body.error
          : 'invalid_request'
  const message =
    typeof body.message === 'string'
      ? body.message
      : response.status === 402
        ? 'this WebSocket is paid: connect again with a payment for the PAYMENT-REQUIRED challenge (header PAYMENT-SIGNATURE, subprotocol x402-payment.<base64url> or ?x402-payment=), or a credit token'
        : `the upgrade was refused with HTTP ${response.status}`
  const credits = body.credits && typeof body.credits === 'object' ? (body.credits as TopUpOffer) : undefined
  return { verified: false, status: response.status, reason, message, response, ...(credits ? { credits } : {}) }
}

/** A refusal made here (bad input, a fault) rather than by the paywall. */
export const refusal = (status: number, reason: string, message: string): Promise<Refused> =>
  refusalOf(errorResponse(status, reason, message))

/** Writes a refusal on the raw socket of an upgrade, before any handshake, and closes it. */
export async function writeRefusal(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer())
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`]
  response.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection') lines.push(`${name}: ${value}`)
  })
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '')
  if (!socket.writable) return void socket.destroy()
  socket.once('finish', () => socket.destroy())
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), body]))
}

/** The first (and last) message of a connection refused after its handshake. */
export function refusalNotice(refused: Refused): WebSocketNotice {
  const header = refused.response.headers.get(x402Headers.paymentRequired)
  return {
    type: 'x402.payment_required',
    status: refused.status,
    reason: refused.reason,
    message: refused.message,
    ...(header ? { paymentRequired: header } : {}),
    ...(refused.credits ? { credits: refused.credits } : {}),
  }
}

/** A close reason within the 123 bytes a WebSocket close frame allows. */
export const closeReason = (reason: string, message: string) => `${reason}: ${message}`.slice(0, 120)
