import { formatMoney } from '@402x/core'
import type { PaymentRecord, PaymentState } from '../ledger/types.js'
import { stableId } from './eventIds.js'
import type { OutboxEvent, WebhookEventType } from './types.js'

/** The event a payment's move to a state reports. */
const typeOf: Partial<Record<PaymentState, WebhookEventType>> = {
  settled: 'payment.settled',
  reconciled: 'payment.settled',
  pending: 'payment.pending',
  failed: 'payment.failed',
}

/**
 * The builder the ledger calls inside its transaction when a payment moves: the events
 * the webhooks listen to, each with a stable id (type + payment id), so that a move
 * written again never reports twice.
 *
 * @example
 * ledger.outbox.paymentEvents = paymentEventBuilder(new Set(['payment.settled']), 6)
 */
export function paymentEventBuilder(
  wanted: ReadonlySet<string>,
  decimals: number,
): (payment: PaymentRecord) => OutboxEvent[] {
  return (payment) => {
    const type = typeOf[payment.state]
    if (!type || !(wanted.has(type) || wanted.has('*'))) return []
    return [
      {
        id: stableId('evt', type, payment.id),
        type,
        timestamp: payment.updatedAt,
        data: {
          paymentId: payment.id,
          state: payment.state,
          payer: payment.payer,
          amount: formatMoney(BigInt(payment.amount), decimals),
          amountAtomic: payment.amount,
          asset: payment.asset,
          network: payment.network,
          payTo: payment.payTo,
          method: payment.method,
          resource: payment.resource,
          ...(payment.transaction ? { transaction: payment.transaction } : {}),
          ...(payment.reason ? { reason: payment.reason } : {}),
        },
      },
    ]
  }
}
