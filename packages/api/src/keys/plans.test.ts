import { describe, expect, it } from 'vitest'
import { checkPlan } from './checkPlan.js'
import { planCovers } from './planCovers.js'
import { plans } from './plans.js'
import type { PlanDefinition } from './types.js'

const refusal = (plan: unknown) => {
  try {
    checkPlan(plan)
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message }
  }
  throw new Error('checkPlan accepted the plan')
}

describe('plan presets', () => {
  it('free: 10 a minute, 1,000 a month, a hard stop, nothing drawn', () => {
    expect(plans.free()).toEqual({
      name: 'free',
      routes: 'all',
      rateLimits: [{ maxRequests: 10, windowMs: 60_000, algorithm: 'sliding-window' }],
      quota: { month: 1000 },
      overage: 'block',
      billing: 'included',
    })
  })

  it('pay-as-you-go: drawn from credit, no quota, 600 a minute', () => {
    expect(plans.payAsYouGo()).toMatchObject({ name: 'pay-as-you-go', billing: 'credits', quota: {} })
    expect(plans.payAsYouGo().rateLimits).toEqual([{ maxRequests: 600, windowMs: 60_000, algorithm: 'sliding-window' }])
  })

  it('tiered: the monthly allowance, 100 a minute, a hard stop or overage at a price', () => {
    expect(plans.tiered({ monthly: 50_000 })).toMatchObject({ quota: { month: 50_000 }, overage: 'block' })
    expect(plans.tiered({ name: 'pro', monthly: 50_000, overagePrice: '0.002', perMinute: 300 })).toMatchObject({
      name: 'pro',
      rateLimits: [{ maxRequests: 300, windowMs: 60_000 }],
      overage: { price: '0.002' },
      billing: 'included',
    })
  })

  it('pass checkPlan, and refuse overrides that do not', () => {
    for (const plan of [plans.free(), plans.payAsYouGo(), plans.tiered({ monthly: 10 })])
      expect(checkPlan(plan)).toBe(plan)
    expect(() => plans.free({ quota: { month: 0 } })).toThrow('plan "free": `quota.month` is 0')
    expect(() => plans.tiered({ monthly: 1.5 })).toThrow('plan "tiered": `quota.month` is 1.5')
  })
})

describe('checkPlan', () => {
  const free = plans.free()
  it.each<[string, unknown, string]>([
    [
      'an unknown field, with the near one',
      { ...free, quotas: {} },
      'plan "free": `quotas` is not an option: did you mean `quota`?',
    ],
    [
      'a missing field',
      (({ billing, ...rest }) => rest)(free),
      'plan "free": `billing` is missing: give the plan\'s `billing` too (see plans.free())',
    ],
    [
      'a bad name',
      { ...free, name: 'my plan' },
      'plan "my plan": `name` is "my plan": give a name of letters, digits, ".", "_" or "-" (at most 64), e.g. "pro"',
    ],
    [
      'no plan at all',
      'free',
      'checkPlan(): `plan` is "free": give a plan object: { name, routes, rateLimits, quota, overage, billing }',
    ],
    [
      'a route that is no pattern',
      { ...free, routes: ['api/*'] },
      'plan "free": `routes[0]` is "api/*": give a route pattern such as "GET /api/*", "/api/*" or "/v1/search"',
    ],
    [
      'an unknown method',
      { ...free, routes: ['GTE /api/*'] },
      'plan "free": `routes[0]` is "GTE /api/*": give a known method (*, GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS), e.g. "GET /api/*"',
    ],
    [
      'no routes',
      { ...free, routes: [] },
      'plan "free": `routes` is an array: give "all", or route patterns such as ["GET /api/*", "/v1/search"]',
    ],
    [
      'a non-positive limit',
      { ...free, rateLimits: [{ maxRequests: 0, windowMs: 1000 }] },
      'plan "free": `rateLimits[0].maxRequests` is 0: give a positive whole number, e.g. 100',
    ],
    [
      'an unknown limit field',
      { ...free, rateLimits: [{ maxRequests: 1, window: 1000 }] },
      'plan "free": `rateLimits[0].window` is not an option: did you mean `windowMs`?',
    ],
    [
      'a bucket without refill',
      { ...free, rateLimits: [{ algorithm: 'token-bucket', capacity: 5 }] },
      'plan "free": `rateLimits[0].refillPerSecond` is missing: give a positive number, e.g. 1',
    ],
    [
      'a bad algorithm',
      { ...free, rateLimits: [{ maxRequests: 1, windowMs: 1, algorithm: 'leaky' }] },
      'plan "free": `rateLimits[0].algorithm` is "leaky": give "sliding-window", "fixed-window" or "token-bucket"',
    ],
    [
      'a negative quota',
      { ...free, quota: { day: -5 } },
      'plan "free": `quota.day` is -5: give a positive whole number, e.g. 100',
    ],
    [
      'a quota per week',
      { ...free, quota: { week: 5 } },
      'plan "free": `quota.week` is not an option; the known ones here are day, month',
    ],
    [
      'a bad price',
      { ...free, overage: { price: 'ten cents' } },
      'plan "free": `overage.price` is "ten cents": give a positive price in dollars with at most 6 decimals, e.g. "0.001"',
    ],
    [
      'a zero price',
      { ...free, overage: { price: '0' } },
      'plan "free": `overage.price` is "0": give a positive price in dollars with at most 6 decimals, e.g. "0.001"',
    ],
    [
      'a price as a number',
      { ...free, overage: { price: 0.01 } },
      'plan "free": `overage.price` is 0.01: give dollars per call as a string, e.g. "0.001"',
    ],
    [
      'overage with no quota',
      { ...free, quota: {}, overage: { price: '0.01' } },
      'plan "free": `overage` bills calls past the quota, but the plan has no quota: give `quota.month` (or `quota.day`), or set `overage` to "block"',
    ],
    [
      'a bad billing',
      { ...free, billing: 'prepaid' },
      'plan "free": `billing` is "prepaid": give "included" (the plan\'s allowance) or "credits" (the route\'s price drawn from the key\'s credit)',
    ],
  ])('refuses %s, naming the field', (_, plan, message) => {
    expect(refusal(plan)).toEqual({ code: 'invalid_config', message })
  })

  it('accepts prices as the price table takes them', () => {
    for (const price of ['0.001', '$0.01', '0.5 USDC'])
      expect(checkPlan({ ...free, overage: { price } }).overage).toEqual({ price })
  })
})

describe('planCovers', () => {
  const plan: PlanDefinition = { ...plans.free(), routes: ['GET /api/*', '/v1/search', 'POST /chat/:id'] }
  it('matches route patterns as the price table does', () => {
    expect(planCovers(plan, 'GET', '/api/quote')).toBe(true)
    expect(planCovers(plan, 'GET', '/api')).toBe(true)
    expect(planCovers(plan, 'HEAD', '/API/quote?x=1')).toBe(true)
    expect(planCovers(plan, 'POST', '/api/quote')).toBe(false)
    expect(planCovers(plan, 'DELETE', '/v1/search')).toBe(true)
    expect(planCovers(plan, 'GET', '/v1/search/more')).toBe(false)
    expect(planCovers(plan, 'post', '/chat/42')).toBe(true)
    expect(planCovers(plan, 'GET', '/other/../api/x')).toBe(true)
    expect(planCovers(plan, 'GET', '/apix')).toBe(false)
    expect(planCovers(plan, 'GET', '/%zz')).toBe(false)
    expect(planCovers(plans.free(), 'PATCH', '/anything')).toBe(true)
  })
})
