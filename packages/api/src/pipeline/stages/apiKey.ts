import { periodReset, periodsOf } from '../../keys/periods.js'
import { planCovers } from '../../keys/planCovers.js'
import type { PlanDefinition } from '../../keys/types.js'
import { errorResponse } from '../../paywall/responses.js'
import { takeLimits } from '../../ratelimit/takeLimits.js'
import type { Stage } from '../compose.js'
import { type PaidContext, respond } from '../context.js'
import { releaseQuota } from '../keyUsage.js'
import { withLimits } from '../withLimits.js'

/**
 * API key: a request that carries a key is served on its plan (docs/api-keys.md). The key
 * is looked up (401 `invalid_key`, `key_revoked`, `key_expired`), the plan must cover the
 * route, its rate limits are taken (429 `rate_limited`) and its quota reserved (429
 * `quota_exceeded` with the reset time, unless the plan bills overage). Sets `apiKey`; the
 * call is funded by `keyFunding` once priced. A request without a key goes on to be paid per
 * call, where the route accepts it (`accept`); on a key-only route it is refused 401.
 */
export const apiKey: Stage = async (ctx, next) => {
  const keys = ctx.rt.config.keys
  if (!keys || ctx.route === ctx.rt.creditsRoute) return next()
  const accept = ctx.route.accept
  const presented = ctx.identity.key
  if (!presented) {
    if (accept && !accept.includes('x402') && !accept.includes('credits')) {
      return respond(
        errorResponse(
          401,
          'invalid_key',
          'this route takes an API key: send it as Authorization: Bearer x402_… (or X-API-Key); nothing was charged',
        ),
      )
    }
    return next()
  }
  if (accept && !accept.includes('key')) return next()
  const found = await keys.lookup.find(presented)
  if (!found.ok) return respond(errorResponse(401, found.reason, found.message))
  const { record, plan } = found
  const pattern = ctx.route.pattern
  const path = ctx.url.pathname
  if (!planCovers(plan, ctx.request.method, path)) {
    if (!accept || accept.includes('x402') || accept.includes('credits')) return next()
    return respond(
      errorResponse(
        403,
        'plan_excludes_route',
        `the plan "${plan.name}" of this key does not cover ${ctx.request.method} ${pattern?.source ?? path}: use a key on a plan that does, or pay per call; nothing was charged`,
      ),
    )
  }
  const taken = await takeLimits(keys.limitsOf(plan), {
    ip: ctx.identity.address,
    key: record.id,
    token: undefined,
    payer: undefined,
    req: ctx.req,
    headers: ctx.request.headers,
  })
  if (taken instanceof Response) return respond(taken)
  const reserved = await reserveQuota(ctx, record.id, plan)
  if ('exceeded' in reserved) {
    await taken.undo()
    // Once per key and period (its id), on its own: no store transaction carries it.
    ctx.rt.webhooks?.notify('key.quota_exceeded', `${record.id}:${reserved.exceeded}`, {
      keyId: record.id,
      plan: plan.name,
      period: reserved.exceeded,
    })
    return respond(exceeded(plan, reserved.exceeded))
  }
  ctx.apiKey = { record, plan, reserved: reserved.taken, over: reserved.over }
  const decision = await withLimits(await next(), taken)
  // Refused after all (a bad request, too little credit): its quota goes back.
  if (decision.type === 'respond' && decision.response.status >= 400) await releaseQuota(ctx)
  return decision
}

/**
 * Reserves one unit in each quota period of the plan. A full period is `exceeded` (a hard
 * stop), or with billed overage `over`: the call is served and billed at the overage price,
 * and counted in the periods that still have room.
 */
async function reserveQuota(
  ctx: PaidContext,
  keyId: string,
  plan: PlanDefinition,
): Promise<{ exceeded: string } | { taken: { period: string; units: number }[]; over: boolean }> {
  const { quota } = plan
  const { usage } = ctx.rt.config.keys as NonNullable<PaidContext['rt']['config']['keys']>
  const { day, month } = periodsOf(Date.now())
  const wanted = [
    ...(quota.day !== undefined ? [{ period: day, limit: quota.day }] : []),
    ...(quota.month !== undefined ? [{ period: month, limit: quota.month }] : []),
  ]
  const taken: { period: string; units: number }[] = []
  let over = false
  for (const { period, limit } of wanted) {
    const result = await usage.reserve(keyId, period, 1, limit)
    if (result.ok) {
      taken.push({ period, units: 1 })
      continue
    }
    if (plan.overage !== 'block') {
      over = true
      continue
    }
    for (const t of taken) await usage.release(keyId, t.period, t.units)
    return { exceeded: period }
  }
  return { taken, over }
}

/** The 429 of a used-up quota: when it resets (`Retry-After`, and the time in the message). */
function exceeded(plan: PlanDefinition, period: string): Response {
  const resetAt = periodReset(period)
  const retryAfter = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000))
  const response = errorResponse(
    429,
    'quota_exceeded',
    `the quota of the plan "${plan.name}" is used up until ${new Date(resetAt).toISOString()}: wait for it, or move the key to a larger plan; nothing was charged`,
    retryAfter,
  )
  response.headers.set('x-402x-quota-reset', new Date(resetAt).toISOString())
  return response
}
