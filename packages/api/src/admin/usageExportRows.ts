import { formatMoney } from '@402x/core'
import type { UsageEvent } from '../keys/types.js'
import { csvField } from './csvField.js'

/** The usage CSV export's columns, in order (the header row). */
export const usageCsvColumns = [
  'request_id',
  'at',
  'key_id',
  'route',
  'units',
  'amount',
  'amount_atomic',
  'asset',
  'status',
] as const

/** A served call on a key as one CSV line (CRLF-terminated, as RFC 4180); `decimals` the asset's. */
export function usageCsvLine(e: UsageEvent, decimals: number): string {
  return `${[
    e.requestId,
    new Date(e.at).toISOString(),
    e.keyId,
    e.route,
    e.units,
    formatMoney(e.amount, decimals),
    String(e.amount),
    e.asset,
    e.status,
  ]
    .map(csvField)
    .join(',')}\r\n`
}

/**
 * A served call on a key as one CloudEvents 1.0 event (one JSON line): `id` the call's
 * `requestId` (recorded once, so a re-import counts it once), `type` `dev.402x.usage.recorded`,
 * `subject` the key id, `data` its route, units and amount (a decimal string, and atomic units).
 *
 * @example
 * usageCloudEvent(event, 'https://api.example.com/__402x', 6)
 */
export function usageCloudEvent(e: UsageEvent, source: string, decimals: number): string {
  return `${JSON.stringify({
    specversion: '1.0',
    id: e.requestId,
    source,
    type: 'dev.402x.usage.recorded',
    time: new Date(e.at).toISOString(),
    subject: e.keyId,
    datacontenttype: 'application/json',
    data: {
      requestId: e.requestId,
      keyId: e.keyId,
      route: e.route,
      units: e.units,
      amount: formatMoney(e.amount, decimals),
      amountAtomic: String(e.amount),
      asset: e.asset,
      status: e.status,
    },
  })}\n`
}
