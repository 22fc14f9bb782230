import { describe, expect, it } from 'vitest'
import { createExpiringMap } from './expiringMap.js'

describe('createExpiringMap', () => {
  it('forgets spent states as new keys come: memory stays bounded by the live keys', () => {
    const states = createExpiringMap<number>()
    let t = 0
    for (let round = 0; round < 20; round++, t += 1_000)
      for (let i = 0; i < 5_000; i++) states.set(`${round}:${i}`, { state: i, expiresAt: t + 500 }, t)
    // 20 rounds of 5,000 keys each spent before the next round: never more than two rounds kept.
    expect(states.size).toBeLessThanOrEqual(10_000)
    expect(states.get('19:1', t - 1_000)).toBe(1)
    expect(states.get('19:1', t)).toBeUndefined()
  })

  it('drops a state that is worth nothing at once', () => {
    const states = createExpiringMap<number>()
    states.set('k', { state: 1, expiresAt: 10 }, 0)
    states.set('k', { state: 0, expiresAt: 5 }, 5)
    expect(states.size).toBe(0)
  })
})
