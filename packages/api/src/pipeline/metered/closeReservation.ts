import { formatMoney } from '@402x/core'
import type { CreditReceipt } from '../../paywall/types.js'
import { payBackOnchain } from '../payBackOnchain.js'
import { creditService, type PaywallRuntime, receiptEvent } from '../runtime.js'
import type { Metered } from './types.js'

/**
 * Captures `captured` of a metered request's reservation and releases the rest; the
 * unused part of a payment goes back as credit, or on chain (`refund: 'onchain'`). Never
 * throws: a capture that is not written charges nothing, and what the ledger holds stands.
 */
export async function closeReservation(
  rt: PaywallRuntime,
  m: Metered,
  keepAlive: ReturnType<typeof setInterval>,
  captured: bigint,
  reason: string | undefined,
): Promise<CreditReceipt> {
  const { events, decimals } = rt
  const credits = rt.config.credits
  const service = creditService(rt)
  clearInterval(keepAlive)
  const onchain = Boolean(m.paid?.refundable && credits?.refund === 'onchain')
  // The unused part of a payment goes back to the caller in the capture (or release): its
  // webhook event commits with it, or not at all. An on-chain refund is sent after.
  const event =
    m.paid && !m.paid.recovered && m.reserved > captured
      ? rt.webhooks?.events('payment.refunded', m.paid.id, {
          paymentId: m.paid.id,
          payer: m.paid.payer,
          amount: formatMoney(m.reserved - captured, decimals),
          reason: reason ?? 'unused part of the maximum',
          refund: onchain ? 'onchain' : 'credit',
        })
      : undefined
  let balance: bigint
  try {
    if (captured === 0n) balance = await service.release(m.account, m.reservationId, reason ?? 'nothing used', event)
    else balance = await service.capture(m.account, m.reservationId, captured, event)
  } catch (error) {
    // Not written (the ledger failed, or expiry released the reservation): nothing is
    // charged; what the ledger holds stands.
    events.emit('error', error)
    captured = 0n
    reason = 'capture_failed'
    balance = await service.available(m.account).catch(() => 0n)
  }
  const returned = m.reserved - captured
  let refund: CreditReceipt['refund'] = 'credit'
  let transaction: string | undefined
  // One on-chain refund per payment, on the first serving only: a signed-in retry of the
  // payment is served from credit, and its unused part stays credit.
  if (onchain && m.paid && !m.paid.recovered && returned > 0n) {
    const back = await payBackOnchain(rt, {
      account: m.account,
      amount: returned,
      ref: `${m.paid.id}:refund`,
      payer: m.paid.payer,
      balance,
    })
    balance = back.balance
    refund = back.refund
    transaction = back.transaction
    if (back.unconfirmed) reason ??= 'refund_unconfirmed'
  }
  if (m.paid && !m.paid.recovered && returned > 0n) {
    events.emit('refunded', {
      id: m.paid.id,
      payer: m.paid.payer,
      amount: returned,
      reason: reason ?? 'unused part of the maximum',
      ...(transaction ? { transaction } : {}),
    })
  }
  const receipt: CreditReceipt = {
    reserved: m.reserved,
    captured,
    returned,
    balance,
    decimals,
    refund,
    ...(transaction ? { transaction } : {}),
    ...(reason ? { reason } : {}),
  }
  receiptEvent(rt, receipt, m.resourceUrl, m.account)
  return receipt
}
