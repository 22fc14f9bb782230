import { X402Error } from '@402x/core'
import { periodBounds } from './periods.js'
import type { UsageEvent, UsageEventsQuery } from './types.js'

const invalid = (message: string) => new X402Error('invalid_request', { message })
const maxAmount = (1n << 63n) - 1n

/** Checks events before `record` writes any (an `invalid_request` error names the field). */
export function checkEvents(events: UsageEvent[]): void {
  if (!Array.isArray(events)) throw invalid('record() takes an array of usage events')
  // Every served key call passes here: the messages are built only for a fault.
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as UsageEvent
    const at = () => `record(): events[${i}]`
    if (typeof e.requestId !== 'string' || !e.requestId) throw invalid(`${at()}.requestId must be a non-empty string`)
    if (typeof e.keyId !== 'string' || !e.keyId) throw invalid(`${at()}.keyId must be a key id`)
    if (typeof e.route !== 'string' || !e.route) throw invalid(`${at()}.route must be the route's pattern`)
    if (!Number.isSafeInteger(e.units) || e.units < 0) throw invalid(`${at()}.units must be a whole number ≥ 0`)
    if (typeof e.amount !== 'bigint' || e.amount < 0n || e.amount > maxAmount)
      throw invalid(`${at()}.amount must be a bigint of atomic units, 0 to 2^63 - 1`)
    if (!Number.isSafeInteger(e.at)) throw invalid(`${at()}.at must be a ms epoch`)
    const reserved = e.reserved
    if (reserved)
      for (let j = 0; j < reserved.length; j++) {
        const r = reserved[j] as { period: string; units: number }
        checkReservation(r.period, r.units)
      }
  }
}

/** Periods already found well-formed (a request's are the same all day): checked once each. */
const wellFormed = new Set<string>()

/** Checks a reservation's period and units. */
export function checkReservation(period: string, units: number, limit = 0): void {
  if (!wellFormed.has(period)) {
    periodBounds(period)
    if (wellFormed.size >= 64) wellFormed.clear()
    wellFormed.add(period)
  }
  if (!Number.isSafeInteger(units) || units <= 0) throw invalid(`units must be a positive whole number, got ${units}`)
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a whole number ≥ 0, got ${limit}`)
}

/** The page size bounds of `UsageStore.events`. */
export const maxEventsPage = 1000

/**
 * Checks `UsageStore.events` options (`from` < `to`, ms epochs; `limit` 1…1000, default
 * 500) and gives them with defaults, `after` as (at, requestId) to compare rows past.
 */
export function checkEventsQuery(query: UsageEventsQuery): {
  from: number
  to: number
  keyId: string | undefined
  after: { at: number; requestId: string }
  limit: number
} {
  const { from, to } = query
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to <= from)
    throw invalid(`events(): from and to must be ms epochs with from < to, got ${from} and ${to}`)
  const limit = query.limit ?? 500
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxEventsPage)
    throw invalid(`events(): limit is ${limit}: give a whole number from 1 to ${maxEventsPage}`)
  const after = query.after ?? { at: from - 1, requestId: '' }
  if (!Number.isSafeInteger(after.at) || typeof after.requestId !== 'string')
    throw invalid('events(): after must be the last event of the page before ({ at, requestId })')
  return { from, to, keyId: query.keyId, after, limit }
}

/** Orders events as `UsageStore.events` pages them: by `at`, then `requestId` (code units). */
export const eventOrder = (a: Pick<UsageEvent, 'at' | 'requestId'>, b: Pick<UsageEvent, 'at' | 'requestId'>) =>
  a.at - b.at || (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0)
