import { formatMoney } from '@402x/core'
import type { RevenueEntry } from '../credits/types.js'
import { csvField } from './csvField.js'

/** The credit CSV export's columns, in order (the header row). */
export const creditCsvColumns = [
  'id',
  'created_at',
  'kind',
  'account',
  'amount',
  'amount_atomic',
  'ref',
  'transaction_id',
  'note',
] as const

/** The event id of a revenue entry: its entry id, named apart from payment and request ids. */
const eventId = (e: RevenueEntry) => `credit_entry_${e.id}`

/** A revenue entry (credit spent, or refunded) as one CSV line (CRLF-terminated, RFC 4180). */
export function creditCsvLine(e: RevenueEntry, decimals: number): string {
  return `${[
    eventId(e),
    new Date(e.createdAt).toISOString(),
    e.kind,
    e.account,
    formatMoney(e.amount, decimals),
    String(e.amount),
    e.ref,
    e.transactionId,
    e.note,
  ]
    .map(csvField)
    .join(',')}\r\n`
}

/**
 * A revenue entry as one CloudEvents 1.0 event (one JSON line): `id` `credit_entry_<entry id>`
 * (stable: a re-import counts it once), `type` `dev.402x.credit.<kind>` (`capture`, `charge`,
 * `refund`), `subject` the credit account, `data` the signed amount (a refund's is negative).
 *
 * @example
 * creditCloudEvent(entry, 'https://api.example.com/__402x', 6)
 */
export function creditCloudEvent(e: RevenueEntry, source: string, decimals: number): string {
  return `${JSON.stringify({
    specversion: '1.0',
    id: eventId(e),
    source,
    type: `dev.402x.credit.${e.kind}`,
    time: new Date(e.createdAt).toISOString(),
    subject: e.account,
    datacontenttype: 'application/json',
    data: {
      entryId: e.id,
      transactionId: e.transactionId,
      account: e.account,
      kind: e.kind,
      amount: formatMoney(e.amount, decimals),
      amountAtomic: String(e.amount),
      ref: e.ref,
      ...(e.note ? { note: e.note } : {}),
    },
  })}\n`
}
