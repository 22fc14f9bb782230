import { describe, expect, it } from 'vitest'
import { usageEventId } from './usageEventId.js'

describe('usageEventId', () => {
  it('is a UUIDv7 of the time it is given, unique, and sorts by that time', () => {
    const at = Date.UTC(2026, 11, 7, 12)
    const id = usageEventId(at)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(at)
    const same = Array.from({ length: 1000 }, () => usageEventId(at))
    expect(new Set(same).size).toBe(1000)
    const later = [at + 1, at + 2, at + 1000, at + 86_400_000].map((t) => usageEventId(t))
    expect([id, ...later]).toEqual([id, ...later].sort())
  })
})
