import { parseMoney, unknownKey, X402Error } from '@402x/core'
import { compileRoute } from '../paywall/routes.js'
import type { PlanDefinition } from './types.js'

const planKeys = ['name', 'routes', 'rateLimits', 'quota', 'overage', 'billing']
const methods = new Set(['*', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const shown = (v: unknown) => (v === undefined ? 'missing' : Array.isArray(v) ? 'an array' : JSON.stringify(v))

/**
 * Checks a plan strictly (the admin API's JSON, a preset with overrides): every field known
 * and given, numbers positive whole numbers, route patterns compiled, prices in dollars.
 * Returns the plan as given.
 *
 * @throws `X402Error('invalid_config')` whose message names the field and what to give,
 * with `details.option`.
 *
 * @example
 * checkPlan({ ...plans.free(), quota: { month: 0 } })
 * // throws: plan "free": `quota.month` is 0: give a positive whole number, e.g. 1000
 */
export function checkPlan(plan: unknown): PlanDefinition {
  const named = isObject(plan) && typeof plan.name === 'string' && plan.name ? `plan "${plan.name}"` : 'checkPlan()'
  const fail = (option: string, message: string): never => {
    throw new X402Error('invalid_config', { message, details: { option, where: named } })
  }
  const give = (option: string, value: unknown, expect: string): never =>
    fail(option, `${named}: \`${option}\` is ${shown(value)}: give ${expect}`)
  const known = (value: Record<string, unknown>, keys: string[], path: string) => {
    for (const key of Object.keys(value))
      if (!keys.includes(key)) fail(`${path}${key}`, unknownKey(key, `${path}${key}`, keys, named))
  }
  const positive = (option: string, value: unknown, example: number, whole = true) => {
    const ok = typeof value === 'number' && Number.isFinite(value) && value > 0
    if (!ok || (whole && !Number.isSafeInteger(value)))
      give(option, value, `a positive ${whole ? 'whole ' : ''}number, e.g. ${example}`)
  }

  if (!isObject(plan)) return give('plan', plan, 'a plan object: { name, routes, rateLimits, quota, overage, billing }')
  known(plan, planKeys, '')
  for (const key of planKeys) if (!(key in plan)) give(key, undefined, `the plan's \`${key}\` too (see plans.free())`)

  if (typeof plan.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(plan.name))
    give('name', plan.name, 'a name of letters, digits, ".", "_" or "-" (at most 64), e.g. "pro"')

  if (plan.routes !== 'all') {
    if (!Array.isArray(plan.routes) || plan.routes.length === 0)
      give('routes', plan.routes, '"all", or route patterns such as ["GET /api/*", "/v1/search"]')
    for (const [i, source] of (plan.routes as unknown[]).entries()) {
      const option = `routes[${i}]`
      if (typeof source !== 'string') give(option, source, 'a route pattern such as "GET /api/*"')
      let method = ''
      try {
        method = compileRoute(source as string).method
      } catch {
        give(option, source, 'a route pattern such as "GET /api/*", "/api/*" or "/v1/search"')
      }
      if (!methods.has(method)) give(option, source, `a known method (${[...methods].join(', ')}), e.g. "GET /api/*"`)
    }
  }

  if (!Array.isArray(plan.rateLimits))
    give('rateLimits', plan.rateLimits, 'an array of limits, e.g. [{ maxRequests: 100, windowMs: 60000 }], or []')
  for (const [i, limit] of (plan.rateLimits as unknown[]).entries()) {
    const at = `rateLimits[${i}]`
    if (!isObject(limit))
      give(at, limit, '{ maxRequests, windowMs } or { algorithm: "token-bucket", capacity, refillPerSecond }')
    const l = limit as Record<string, unknown>
    if (l.algorithm === 'token-bucket') {
      known(l, ['algorithm', 'capacity', 'refillPerSecond'], `${at}.`)
      positive(`${at}.capacity`, l.capacity, 10)
      positive(`${at}.refillPerSecond`, l.refillPerSecond, 1, false)
      continue
    }
    known(l, ['maxRequests', 'windowMs', 'algorithm'], `${at}.`)
    if (l.algorithm !== undefined && l.algorithm !== 'sliding-window' && l.algorithm !== 'fixed-window')
      give(`${at}.algorithm`, l.algorithm, '"sliding-window", "fixed-window" or "token-bucket"')
    positive(`${at}.maxRequests`, l.maxRequests, 100)
    positive(`${at}.windowMs`, l.windowMs, 60_000)
  }

  if (!isObject(plan.quota)) give('quota', plan.quota, '{ month: 1000 }, { day: 100 }, or {} for no quota')
  const quota = plan.quota as Record<string, unknown>
  known(quota, ['day', 'month'], 'quota.')
  for (const period of ['day', 'month'])
    if (quota[period] !== undefined) positive(`quota.${period}`, quota[period], period === 'day' ? 100 : 1000)

  if (plan.overage !== 'block') {
    if (!isObject(plan.overage)) give('overage', plan.overage, '"block", or { price: "0.001" } (dollars per call)')
    const overage = plan.overage as Record<string, unknown>
    known(overage, ['price'], 'overage.')
    if (typeof overage.price !== 'string')
      give('overage.price', overage.price, 'dollars per call as a string, e.g. "0.001"')
    let atomic = 0n
    try {
      atomic = parseMoney(overage.price as string)
    } catch {}
    if (atomic <= 0n)
      give('overage.price', overage.price, 'a positive price in dollars with at most 6 decimals, e.g. "0.001"')
    if (quota.day === undefined && quota.month === undefined)
      fail(
        'overage',
        `${named}: \`overage\` bills calls past the quota, but the plan has no quota: give \`quota.month\` (or \`quota.day\`), or set \`overage\` to "block"`,
      )
  }

  if (plan.billing !== 'included' && plan.billing !== 'credits')
    give(
      'billing',
      plan.billing,
      '"included" (the plan\'s allowance) or "credits" (the route\'s price drawn from the key\'s credit)',
    )
  return plan as PlanDefinition
}
