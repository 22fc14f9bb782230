import { encodeHeader, headers } from '@402x/core'
import { creditExposeHeaders, tokenHeader } from '../../paywall/credits.js'
import { knownBody, responseOf } from '../../paywall/knownBody.js'
import { chargeFor, meteredResponse } from '../../paywall/metering.js'
import { refuseOverMax } from '../../paywall/overMax.js'
import type { ResolvedRoute } from '../../paywall/resolvePaywall.js'
import { errorResponse, faultResponse } from '../../paywall/responses.js'
import { createStreamMeter } from '../../paywall/streamMeter.js'
import type { CreditReceipt, Decision } from '../../paywall/types.js'
import { creditService, type PaywallRuntime, stamp } from '../runtime.js'
import { closeReservation } from './closeReservation.js'
import type { Metered } from './types.js'

/**
 * Reserve → serve → capture: a metered request, buffered or streamed. Money: at most the
 * reservation is captured (what was used), the rest goes back; a handler failure or a
 * meter fault captures nothing.
 */
export function meteredProceed(rt: PaywallRuntime, m: Metered): Decision {
  const meter = m.route.meter as NonNullable<ResolvedRoute['meter']>
  const { decimals } = rt
  const startedAt = performance.now()
  let closing: Promise<CreditReceipt> | undefined
  // A request still running keeps its reservation: expiry is for processes that died.
  const ttl = (rt.config.credits as NonNullable<typeof rt.config.credits>).reservationTtlMs
  const keepAlive = setInterval(
    () =>
      void creditService(rt)
        .extend(m.reservationId, ttl)
        .catch((error) => rt.events.emit('error', error)),
    Math.max(10, ttl / 3),
  )
  keepAlive.unref()
  /** Captures what was used and releases the rest, once; never throws (a fault charges nothing). */
  const close = (captured: bigint, reason?: string) => {
    closing ??= closeReservation(rt, m, keepAlive, captured, reason)
    return closing
  }
  const paidStamp = m.paid ? { settle: m.paid.settle, v1: m.paid.v1 } : undefined
  return {
    type: 'proceed',
    finish: async (response) => {
      if (response.status >= 400) return stamp(response, await close(0n, 'handler_error'), m.token, paidStamp)
      let charge: bigint
      let body: Uint8Array | null = null
      try {
        const known = knownBody(response)
        body =
          typeof known === 'string'
            ? new TextEncoder().encode(known)
            : known !== undefined
              ? known
              : new Uint8Array(await response.arrayBuffer())
        if (body && !meter.whole && /text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
          // A whole SSE body (an adapter that buffers streams): billed event by event, as a stream is.
          const stream = createStreamMeter({
            meter,
            reserved: m.reserved,
            decimals,
            startedAt,
            sse: true,
            settle: (amount, reason) => close(amount, reason),
            resource: m.resourceUrl,
          })
          const head = stream.write(body).send
          const { send: tail, receipt } = await stream.end()
          const whole = new Uint8Array((head?.length ?? 0) + (tail?.length ?? 0))
          if (head) whole.set(head)
          if (tail) whole.set(tail, head?.length ?? 0)
          const headers = new Headers(response.headers)
          headers.delete('content-length')
          return stamp(responseOf(whole, { status: response.status, headers }), receipt, m.token, paidStamp)
        }
        const units =
          meter.kind === 'seconds'
            ? (performance.now() - startedAt) / 1000
            : meter.count(meteredResponse(body, response.status, response.headers))
        charge = chargeFor(units, meter.unitPrice, decimals)
      } catch (error) {
        const receipt = await close(0n, 'meter_failed')
        return stamp(
          errorResponse(
            500,
            'meter_failed',
            `the route's meter failed (${(error as Error).message}); nothing was charged`,
          ),
          receipt,
          m.token,
          paidStamp,
        )
      }
      if (charge > m.reserved && meter.overMax === 'refuse') {
        const refused = refuseOverMax(meter, charge, decimals, m.resourceUrl)
        return stamp(refused, await close(0n, 'metered_over_max'), m.token, paidStamp)
      }
      let receipt: CreditReceipt
      try {
        receipt = await close(
          charge > m.reserved ? m.reserved : charge,
          charge > m.reserved ? 'metered_over_max' : undefined,
        )
      } catch (error) {
        return faultResponse(error)
      }
      return stamp(responseOf(body, response), receipt, m.token, paidStamp)
    },
    abort: async (reason) => {
      await close(0n, reason)
    },
    // Charged, but the response never left: the charge goes back to the caller's credit.
    undelivered: async () => {
      const receipt = await closing
      if (!receipt || receipt.captured === 0n) return
      await creditService(rt)
        .refund(m.account, receipt.captured, `${m.reservationId}:undelivered`, 'response not delivered')
        .catch((error) => rt.events.emit('error', error))
    },
    // `meterWhole`: no streaming; adapters buffer the answer and `finish` counts it whole.
    ...(meter.whole
      ? {}
      : {
          stream: (sse) =>
            createStreamMeter({
              meter,
              reserved: m.reserved,
              decimals,
              startedAt,
              sse,
              settle: (amount, reason) => close(amount, reason),
              resource: m.resourceUrl,
            }),
        }),
    streamHeaders: () => {
      const out = new Headers({ 'x-402x-reserved': String(m.reserved) })
      if (m.token) out.set(tokenHeader, m.token)
      if (m.paid) {
        out.set(headers.paymentResponse, encodeHeader(m.paid.settle))
        if (m.paid.v1) out.set(headers.v1PaymentResponse, encodeHeader(m.paid.settle))
      }
      out.set('access-control-expose-headers', `${creditExposeHeaders}, X-402x-Reserved`)
      out.set('cache-control', 'private, no-store')
      return out
    },
  }
}
