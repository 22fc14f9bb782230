import { describe, expect, it } from 'vitest'
import { periodBounds, periodReset, periodsOf } from './periods.js'

describe('quota periods', () => {
  it('name the UTC day and month of an instant, at the boundaries', () => {
    expect(periodsOf(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toEqual({ day: 'd:2026-12-31', month: 'm:2026-12' })
    expect(periodsOf(Date.UTC(2027, 0, 1))).toEqual({ day: 'd:2027-01-01', month: 'm:2027-01' })
    expect(periodsOf(Date.UTC(2026, 2, 1) - 1)).toEqual({ day: 'd:2026-02-28', month: 'm:2026-02' })
  })

  it('know leap years: 29 February 2028 and 2000, not 2100', () => {
    expect(periodsOf(Date.UTC(2028, 1, 29, 12)).day).toBe('d:2028-02-29')
    expect(periodReset('d:2028-02-28')).toBe(Date.UTC(2028, 1, 29))
    expect(periodReset('m:2028-02') - Date.UTC(2028, 1, 1)).toBe(29 * 86_400_000)
    expect(periodReset('m:2000-02') - Date.UTC(2000, 1, 1)).toBe(29 * 86_400_000)
    expect(periodReset('m:2100-02') - Date.UTC(2100, 1, 1)).toBe(28 * 86_400_000)
    expect(() => periodReset('d:2027-02-29')).toThrow('"d:2027-02-29" is not a quota period')
  })

  it('end at the next UTC midnight, or the first of the next month', () => {
    expect(periodReset('d:2026-12-31')).toBe(Date.UTC(2027, 0, 1))
    expect(periodReset('m:2026-12')).toBe(Date.UTC(2027, 0, 1))
    expect(periodBounds('m:2026-04')).toEqual({ from: Date.UTC(2026, 3, 1), to: Date.UTC(2026, 4, 1) })
    const at = Date.UTC(2026, 6, 15, 8)
    for (const period of Object.values(periodsOf(at))) {
      const { from, to } = periodBounds(period)
      expect(at >= from && at < to).toBe(true)
      expect(Object.values(periodsOf(to))).not.toContain(period)
      expect(Object.values(periodsOf(to - 1))).toContain(period)
    }
  })

  it('refuse what is not a period, saying what to give', () => {
    for (const bad of ['2026-12', 'm:2026-13', 'm:2026-00', 'd:2026-12-32', 'd:2026-12-00', 'w:2026-49', 'm:26-12'])
      expect(() => periodReset(bad)).toThrow(
        `"${bad}" is not a quota period: give a UTC day "d:2026-12-06" or month "m:2026-12" (periodsOf(at) names both)`,
      )
  })
})
