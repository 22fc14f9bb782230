import { checkPlan } from './checkPlan.js'
import type { PlanDefinition } from './types.js'

const minute = 60_000
const preset = (base: PlanDefinition, overrides: Partial<PlanDefinition> = {}) => checkPlan({ ...base, ...overrides })

/**
 * Plan presets: each returns a `PlanDefinition`, checked (`checkPlan`), with `overrides`
 * laid over it.
 *
 * @example
 * const keysPlans = [plans.free(), plans.payAsYouGo(), plans.tiered({ name: 'pro', monthly: 50_000, overagePrice: '0.002' })]
 */
export const plans = {
  /**
   * `free`: for trying the API. 10 requests a minute (sliding window), 1,000 a UTC month, a
   * hard stop past them (429 `quota_exceeded`), every route, nothing drawn per call.
   */
  free: (overrides?: Partial<PlanDefinition>): PlanDefinition =>
    preset(
      {
        name: 'free',
        routes: 'all',
        rateLimits: [{ maxRequests: 10, windowMs: minute, algorithm: 'sliding-window' }],
        quota: { month: 1000 },
        overage: 'block',
        billing: 'included',
      },
      overrides,
    ),
  /**
   * `pay-as-you-go`: every call draws the route's price from the key's credit account (402
   * when it runs out). Soft limits: no quota, and a generous 600 requests a minute (sliding
   * window) that only stops a runaway client; the credit is the real limit.
   */
  payAsYouGo: (overrides?: Partial<PlanDefinition>): PlanDefinition =>
    preset(
      {
        name: 'pay-as-you-go',
        routes: 'all',
        rateLimits: [{ maxRequests: 600, windowMs: minute, algorithm: 'sliding-window' }],
        quota: {},
        overage: 'block',
        billing: 'credits',
      },
      overrides,
    ),
  /**
   * A tier: `monthly` calls (or metered units) a UTC month included, 100 requests a minute
   * (sliding window). Past the allowance: a hard stop, or with `overagePrice` each call billed
   * at that price (dollars) from the key's credit account.
   * @default name 'tiered'
   */
  tiered: (
    options: { monthly: number; overagePrice?: string; perMinute?: number } & Partial<
      Omit<PlanDefinition, 'quota' | 'overage'>
    >,
  ): PlanDefinition => {
    const { monthly, overagePrice, perMinute = 100, ...overrides } = options
    return preset(
      {
        name: 'tiered',
        routes: 'all',
        rateLimits: [{ maxRequests: perMinute, windowMs: minute, algorithm: 'sliding-window' }],
        quota: { month: monthly },
        overage: overagePrice === undefined ? 'block' : { price: overagePrice },
        billing: 'included',
      },
      overrides,
    )
  },
}
