import type { ResolvedKeys } from '../keys/resolveKeys.js'
import { usageEventId } from '../keys/usageEventId.js'
import type { Decision } from '../paywall/types.js'
import type { PaidContext } from './context.js'
import type { PaywallRuntime } from './runtime.js'

/**
 * A call on an API key, decided: once its answer is served (< 400) a usage event is
 * recorded (key, route, units, amount, status), releasing its quota reservation in the same
 * write (the store's group commit, within milliseconds; its reads see it at once); an answer
 * ≥ 400, or a call that never finished, gives the reservation back and records nothing. A
 * usage write that fails is reported (`error`), never charged twice.
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
    recordKeyCall(ctx.rt, keys, {
      keyId: held.record.id,
      route,
      amount,
      status,
      reserved: held.reserved.splice(0),
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

/**
 * Records one served call on a key, under a time-ordered id (`usageEventId`). Written with
 * the events of the next 20 ms or so (the SQLite usage store's group commit), not awaited: the
 * answer does not wait for the usage row. A write that fails is reported (`error`) and gives
 * the quota reservation back.
 */
export function recordKeyCall(
  rt: PaywallRuntime,
  keys: ResolvedKeys,
  call: {
    keyId: string
    route: string
    amount: bigint
    status: number
    reserved: { period: string; units: number }[]
  },
): void {
  const { keyId, reserved } = call
  const at = Date.now()
  keys.usage
    .record([
      {
        keyId,
        route: call.route,
        units: 1,
        amount: call.amount,
        asset: rt.config.asset.address,
        status: call.status,
        at,
        requestId: usageEventId(at),
        reserved,
      },
    ])
    .catch(async (error) => {
      rt.events.emit('error', error)
      await giveBackQuota(keys, keyId, reserved)
    })
}

/** Gives back the quota reservations of a call that was not served (each failure ignored). */
export async function giveBackQuota(
  keys: ResolvedKeys,
  keyId: string,
  reserved: { period: string; units: number }[],
): Promise<void> {
  for (const r of reserved) await keys.usage.release(keyId, r.period, r.units).catch(() => {})
}

/** Gives back the quota this request reserved (it was not served). */
export async function releaseQuota(ctx: PaidContext): Promise<void> {
  const held = ctx.apiKey
  const keys = ctx.rt.config.keys
  if (!held || !keys) return
  await giveBackQuota(keys, held.record.id, held.reserved.splice(0))
}
