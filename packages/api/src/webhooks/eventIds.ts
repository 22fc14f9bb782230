import { createHash } from 'node:crypto'
import type { OutboxEvent } from './types.js'

/**
 * A stable id from what identifies an event (`payment.settled` of payment `pay_…`): the
 * same event written twice (a retry, two instances) is one row, sent with one `webhook-id`.
 *
 * @example
 * stableId('evt', 'payment.settled', paymentId) // 'evt_3f…'
 */
export function stableId(prefix: string, ...parts: string[]): string {
  return `${prefix}_${createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 26)}`
}

/** The JSON body of an event, per Standard Webhooks: `{ type, timestamp, data }`. */
export function eventBody(event: { type: string; timestamp: number; data: Record<string, unknown> }): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.timestamp).toISOString(), data: event.data })
}

/** An event read back from a row that kept its body (`eventBody`): the same bytes again. */
export function eventFromBody(row: { id: string; type: string; created_at: number | bigint; body: string }) {
  return {
    id: row.id,
    type: row.type as OutboxEvent['type'],
    timestamp: Number(row.created_at),
    data: (JSON.parse(row.body) as { data: Record<string, unknown> }).data,
  }
}
