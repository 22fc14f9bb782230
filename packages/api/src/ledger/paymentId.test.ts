import { describe, expect, it } from 'vitest'
import { paymentId } from './paymentId.js'

const uuid7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('paymentId', () => {
  it('is a UUID version 7 whose first 48 bits are the time in ms', () => {
    const now = Date.UTC(2026, 11, 5, 9, 30)
    const id = paymentId(now)
    expect(id).toMatch(uuid7)
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now)
  })

  it('sorts by time, and never repeats (100,000 ids, across refills of the random pool)', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => paymentId(1_750_000_000_000 + Math.floor(i / 1000)))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(uuid7)
    const byTime = (id: string) => id.slice(0, 13)
    expect(ids.map(byTime)).toEqual([...ids].sort().map(byTime))
    expect(paymentId(1_750_000_000_001) > paymentId(1_750_000_000_000)).toBe(true)
  })

  it('uses every variant nibble (8, 9, a, b) and random bits after the time', () => {
    const ids = Array.from({ length: 2000 }, () => paymentId(1_750_000_000_000))
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']))
    expect(new Set(ids.map((id) => id.slice(15, 18))).size).toBeGreaterThan(1000)
  })
})
