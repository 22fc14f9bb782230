import { describe, expect, it } from 'vitest'
import { rateLimitHeaders, rateLimitPolicyName } from './rateLimitHeaders.js'
import type { RateDecision, RatePolicy } from './types.js'

// The expected strings are what express-rate-limit 8.6.2 writes with `standardHeaders:
// 'draft-8'` (source/headers.ts, setDraft8Headers): computed by hand from its code, e.g.
// sha256('1.2.3.4') starts 6694f83c9f47, whose base64 is NjY5NGY4M2M5ZjQ3.
const decision = (limit: number, remaining: number, resetSeconds: number): RateDecision => ({
  ok: remaining > 0,
  limit,
  remaining,
  resetSeconds,
  retryAfterMs: 0,
})
const perMinute: RatePolicy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 }

describe('rateLimitHeaders', () => {
  it("writes express-rate-limit's draft-8 fields for one policy", () => {
    expect(rateLimitHeaders([{ policy: perMinute, decision: decision(100, 99, 60), key: '1.2.3.4' }])).toEqual({
      'RateLimit-Policy': '"100-in-1min"; q=100; w=60; pk=:NjY5NGY4M2M5ZjQ3:',
      RateLimit: '"100-in-1min"; r=99; t=60',
    })
  })

  it("joins a plan's several limits into one list per field, in order", () => {
    const perDay: RatePolicy = { algorithm: 'fixed-window', limit: 10_000, windowMs: 86_400_000 }
    const payer = '0xAbC0000000000000000000000000000000000001'
    expect(
      rateLimitHeaders([
        { policy: perMinute, decision: decision(100, 0, 42), key: payer },
        { policy: perDay, decision: decision(10_000, 9_950, 3_600), key: payer, name: 'daily' },
      ]),
    ).toEqual({
      'RateLimit-Policy':
        '"100-in-1min"; q=100; w=60; pk=:NTU2OWZlYmE1M2U3:, "daily"; q=10000; w=86400; pk=:NTU2OWZlYmE1M2U3:',
      RateLimit: '"100-in-1min"; r=0; t=42, "daily"; r=9950; t=3600',
    })
  })

  it('gives a token bucket its capacity as q and its time to refill from empty as w, rounded up', () => {
    const policy: RatePolicy = { algorithm: 'token-bucket', capacity: 10, refillPerSecond: 3 }
    expect(rateLimitHeaders([{ policy, decision: decision(10, 7, 1), key: '::1' }])).toEqual({
      'RateLimit-Policy': '"10-in-4sec"; q=10; w=4; pk=:ZWZmOGU3Y2E1MDY2:',
      RateLimit: '"10-in-4sec"; r=7; t=1',
    })
  })

  it('writes nothing for no policies, and escapes a custom name as an sf-string', () => {
    expect(rateLimitHeaders([])).toEqual({})
    const [member] = (
      rateLimitHeaders([{ policy: perMinute, decision: decision(100, 1, 1), key: 'k', name: 'a "b"' }]).RateLimit ?? ''
    ).split(';')
    expect(member).toBe('"a \\"b\\""')
  })

  it('names windows as express-rate-limit does', () => {
    const named = (windowMs: number) => rateLimitPolicyName({ algorithm: 'fixed-window', limit: 5, windowMs })
    expect([500, 30_000, 90_000, 900_000, 3_600_000, 7_200_000, 86_400_000, 172_800_000].map(named)).toEqual([
      '5-in-0.5sec',
      '5-in-30sec',
      '5-in-1.5min',
      '5-in-15min',
      '5-in-1hr',
      '5-in-2hrs',
      '5-in-1day',
      '5-in-2days',
    ])
  })
})
