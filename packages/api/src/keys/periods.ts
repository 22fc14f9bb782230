import { X402Error } from '@402x/core'

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * The quota periods an instant falls in: its UTC day (`d:YYYY-MM-DD`) and UTC month
 * (`m:YYYY-MM`).
 *
 * @example
 * periodsOf(Date.UTC(2028, 1, 29, 23, 59)) // { day: 'd:2028-02-29', month: 'm:2028-02' }
 */
export function periodsOf(at: number): { day: string; month: string } {
  const date = new Date(at)
  const month = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}`
  return { day: `d:${month}-${pad(date.getUTCDate())}`, month: `m:${month}` }
}

/**
 * A period's bounds, `[from, to)` in ms epoch.
 * @throws `invalid_request` for a period that is not `d:YYYY-MM-DD` or `m:YYYY-MM`.
 */
export function periodBounds(period: string): { from: number; to: number } {
  const match = /^(?:d:(\d{4})-(\d{2})-(\d{2})|m:(\d{4})-(\d{2}))$/.exec(period)
  const [year, month, day] = match ? (match[1] ? match.slice(1, 4) : [match[4], match[5], '0']).map(Number) : []
  if (match && year !== undefined && month !== undefined && day !== undefined) {
    const from = Date.UTC(year, month - 1, day || 1)
    const to = day ? Date.UTC(year, month - 1, day + 1) : Date.UTC(year, month, 1)
    // A day that does not exist (`d:2027-02-29`) would roll over: periodsOf never names one.
    const again = periodsOf(from)
    if (month >= 1 && month <= 12 && (day ? again.day : again.month) === period) return { from, to }
  }
  throw new X402Error('invalid_request', {
    message: `"${period}" is not a quota period: give a UTC day "d:2026-12-06" or month "m:2026-12" (periodsOf(at) names both)`,
    details: { period },
  })
}

/**
 * When a period ends (ms epoch): the next UTC midnight, or the first of the next month;
 * the `resetAt` of a quota.
 *
 * @example
 * periodReset('m:2026-12') // Date.UTC(2027, 0, 1)
 */
export function periodReset(period: string): number {
  return periodBounds(period).to
}
