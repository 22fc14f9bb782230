import { randomUUID } from 'node:crypto'
import type { Decision } from '../paywall/types.js'
import type { PaidContext } from './context.js'
import { releaseQuota } from './stages/apiKey.js'

/**
 * A call on an API key, decided: once its answer is served (< 400) a usage event is
 * recorded (key, route, units, amount, status), releasing its quota reservation in the same
 * write (the store's group commit, within milliseconds; its reads see it at once); an answer ≥ 400, or a call that never finished, gives the reservation back and
 * records nothing. A usage write that fails is reported (`error`), never charged twice.
 */
export function withUsage(ctx: PaidContext, decision: Decision, amount: bigint): Decision {
  if (decision.type !== 'proceed') return decision
  const held = ctx.apiKey as NonNullable<PaidContext['apiKey']>
  const keys = ctx.rt.config.keys as NonNullable<PaidContext['rt']['config']['keys']>
  const route = ctx.route.pattern?.source ?? `${ctx.request.method} ${ctx.url.pathname}`
  let done = false
  const after = async (status: number) => {
    if (done) return
    done = true
    if (status >= 400) return releaseQuota(ctx)
    const reserved = held.reserved.splice(0)
    // Written with the events of the next few milliseconds (group commit), not awaited: the
    // answer does not wait for the usage row. A write that fails is reported and gives the
    // quota reservation back.
    keys.usage
      .record([
        {
          keyId: held.record.id,
          route,
          units: 1,
          amount,
          asset: ctx.rt.config.asset.address,
          status,
          at: Date.now(),
          requestId: randomUUID(),
          reserved,
        },
      ])
      .catch(async (error) => {
        ctx.rt.events.emit('error', error)
        for (const r of reserved) await keys.usage.release(held.record.id, r.period, r.units).catch(() => {})
      })
  }
  const { finish, finishStatus, abort } = decision
  return {
    ...decision,
    finish: async (response) => {
      const out = await finish(response)
      await after(out.status)
      return out
    },
    ...(finishStatus
      ? {
          finishStatus: async (status: number) => {
            const outcome = await finishStatus(status)
            await after(outcome instanceof Response ? outcome.status : status)
            return outcome
          },
        }
      : {}),
    abort: async (reason) => {
      await abort(reason)
      if (!done) {
        done = true
        await releaseQuota(ctx)
      }
    },
  }
}
