import { csvField } from './csvField.js'
import type { PaymentView } from './paymentView.js'

/** The CSV export's columns, in order (the header row). */
export const csvColumns = [
  'id',
  'created_at',
  'settled_at',
  'state',
  'payer',
  'amount',
  'amount_atomic',
  'asset',
  'network',
  'method',
  'resource',
  'transaction',
] as const

/** A payment as one CSV line (CRLF-terminated, as RFC 4180). */
export function csvLine(p: PaymentView): string {
  return `${[
    p.id,
    p.createdAt,
    p.settledAt,
    p.state,
    p.payer,
    p.amount,
    p.amountAtomic,
    p.asset,
    p.network,
    p.method,
    p.resource,
    p.transaction,
  ]
    .map(csvField)
    .join(',')}\r\n`
}

/**
 * A payment as one CloudEvents 1.0 event (structured JSON, one per line): `id` the payment
 * id (a stable idempotency key for the importer), `source` the API, `type`
 * `dev.402x.payment.<state>`, `time` when it was recorded, `subject` the payer. docs/admin-api.md
 * maps it to Stripe meter events, OpenMeter and Lago.
 */
export function cloudEvent(p: PaymentView, source: string): string {
  return `${JSON.stringify({
    specversion: '1.0',
    id: p.id,
    source,
    type: `dev.402x.payment.${p.state}`,
    time: p.createdAt,
    subject: p.payer,
    datacontenttype: 'application/json',
    data: {
      paymentId: p.id,
      payer: p.payer,
      amount: p.amount,
      amountAtomic: p.amountAtomic,
      asset: p.asset,
      network: p.network,
      method: p.method,
      resource: p.resource,
      state: p.state,
      transaction: p.transaction,
      ...(p.settledAt ? { settledAt: p.settledAt } : {}),
    },
  })}\n`
}
