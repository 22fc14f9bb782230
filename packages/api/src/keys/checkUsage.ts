import { X402Error } from '@402x/core'
import { periodBounds } from './periods.js'
import type { UsageEvent } from './types.js'

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
