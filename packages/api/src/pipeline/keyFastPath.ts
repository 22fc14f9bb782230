import { periodsOf } from '../keys/periods.js'
import { planCovers } from '../keys/planCovers.js'
import type { ResolvedKeys } from '../keys/resolveKeys.js'
import type { ApiKeyRecord, PlanDefinition } from '../keys/types.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { keyCallerId } from '../ratelimit/callerId.js'
import { rateLimitMember, rateLimitState } from '../ratelimit/rateLimitHeaders.js'
import type { ResolvedLimit } from '../ratelimit/resolveRateLimit.js'
import { answered } from '../ratelimit/takeLimits.js'
import type { RateDecision } from '../ratelimit/types.js'
import { giveBackQuota, recordKeyCall } from './keyUsage.js'
import type { PaywallRuntime } from './runtime.js'

type Reserved = { period: string; units: number }[]

/**
 * The Node adapters' fast path for a call on an API key within its plan's allowance: what
 * the `apiKey` and `keyFunding` stages decide for it, without a Web `Request`, a context or
 * a held answer. It serves only what the full path would serve with nothing paid, decided
 * from this process's memory (the key and plan cached by the lookup, the quota's counters,
 * the plan's limits in memory or one Redis round trip); anything else (an unknown, revoked or
 * expired key, a plan that bills or does not cover the route, a full quota, a limit reached,
 * a store that fails) takes the full path with nothing taken, which answers it. Internal to
 * this package: adapters reach it with {@link keyFastPathOf}.
 */
export type KeyFastPath = {
  /** Whether a route may be served here: a fixed price, nothing that reads the request, keys accepted. */
  eligible(route: ResolvedRoute): boolean
  /**
   * Takes the plan's limits and reserves the quota for a call with `key` (the key as sent),
   * at once when every store decides in memory; `undefined` sends it down the full path.
   */
  begin(
    route: ResolvedRoute,
    key: string,
    method: string,
    path: string,
  ): KeyGrant | undefined | Promise<KeyGrant | undefined>
}

/** Where a paywall keeps its key fast path, out of its public type. */
export const keyFastPathKey: unique symbol = Symbol('402x.keyFastPath')

/** The paywall's key fast path; `undefined` without `keys`. */
export const keyFastPathOf = (paywall: object): KeyFastPath | undefined =>
  (paywall as { [keyFastPathKey]?: KeyFastPath })[keyFastPathKey]

/** What one key's calls reuse: the limits' counter names and their `RateLimit-Policy`. */
type KeyLimits = { limits: ResolvedLimit[]; counters: string[]; labels: string[]; policy: string }

/**
 * A call begun on the fast path: its limits taken, its quota reserved. The adapter sets
 * `ratelimit-policy` (`policy`) and `ratelimit` (`state`) on the answer when there are limits,
 * then ends it once with {@link KeyGrant.finish} (the handler answered) or
 * {@link KeyGrant.drop} (it never did). A class: one object per request.
 */
export class KeyGrant {
  private done = false
  constructor(
    private readonly rt: PaywallRuntime,
    private readonly keys: ResolvedKeys,
    readonly record: ApiKeyRecord,
    readonly plan: PlanDefinition,
    /** The usage event's route: the pattern, else the method and path. */
    private readonly route: string,
    private readonly reserved: Reserved,
    /** `ratelimit-policy`, as the full path writes it; `undefined` without limits. */
    readonly policy: string | undefined,
    /** `ratelimit` after this call's decisions, as the full path writes it; `undefined` without limits. */
    readonly state: string | undefined,
  ) {}

  /**
   * The handler answered `status`: below 400 the call is recorded (its reservation released
   * by the same write); at 400 or more the reservation goes back. Its limits stay taken, as
   * on the full path: a request whose handler ran counts.
   */
  finish(status: number): void {
    if (this.done) return
    this.done = true
    if (status >= 400) {
      void giveBackQuota(this.keys, this.record.id, this.reserved)
      return
    }
    recordKeyCall(this.rt, this.keys, {
      keyId: this.record.id,
      route: this.route,
      amount: 0n,
      status,
      reserved: this.reserved,
    })
  }

  /** The handler never answered (the caller left first): the reservation goes back, nothing is recorded. */
  drop(): void {
    if (this.done) return
    this.done = true
    void giveBackQuota(this.keys, this.record.id, this.reserved)
  }
}

export function createKeyFastPath(rt: PaywallRuntime): KeyFastPath | undefined {
  const keys = rt.config.keys
  // Quota counters that decide in this process (memory, SQLite); PostgreSQL's take the full path.
  const reserveNow = keys?.usage.reserveNow?.bind(keys.usage)
  if (!keys || !reserveNow) return undefined
  const fast = new Set<ResolvedRoute>()
  for (const route of rt.config.routes) {
    if (route.price === undefined || route.meter || route.free || route.skip || route.validate) continue
    // A route's own limits are a stage before the key's: the full path takes them.
    if (route.needsRequest || route.limits?.length || (route.accept && !route.accept.includes('key'))) continue
    fast.add(route)
  }
  /** Per key record (a new one each time the lookup reads it again): its limits' names and policy. */
  const byRecord = new WeakMap<ApiKeyRecord, KeyLimits>()
  const limitsOf = (record: ApiKeyRecord, plan: PlanDefinition): KeyLimits => {
    let known = byRecord.get(record)
    if (!known) {
      const limits = keys.limitsOf(plan)
      // Counted by the key's id, as the `apiKey` stage counts them (`takeLimits`).
      const who = keyCallerId(record.id)
      const members = limits.map((l) => rateLimitMember(l.policy, who, l.name, allowance(l)))
      known = {
        limits,
        counters: limits.map((l) => `${l.prefix}:${who}`),
        labels: members.map((m) => m.label),
        policy: members.map((m) => m.policy).join(', '),
      }
      byRecord.set(record, known)
    }
    return known
  }
  let periods = { day: '', month: '', until: 0 }
  const currentPeriods = (now: number) => {
    if (now >= periods.until) {
      const date = new Date(now)
      periods = { ...periodsOf(now), until: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1) }
    }
    return periods
  }
  /** One unit reserved in each quota period of the plan, or `undefined` (none kept) when one is full. */
  const reserve = (keyId: string, plan: PlanDefinition): Reserved | undefined => {
    const { day, month } = plan.quota
    const taken: Reserved = []
    if (day === undefined && month === undefined) return taken
    const now = currentPeriods(Date.now())
    try {
      if (
        (day === undefined || take(keyId, now.day, day, taken)) &&
        (month === undefined || take(keyId, now.month, month, taken))
      )
        return taken
    } catch {
      // The store failed: the full path asks it again, and answers its fault.
    }
    void giveBackQuota(keys, keyId, taken)
    return undefined
  }
  const take = (keyId: string, period: string, limit: number, taken: Reserved) => {
    if (!reserveNow(keyId, period, 1, limit).ok) return false
    taken.push({ period, units: 1 })
    return true
  }
  const grant = (record: ApiKeyRecord, plan: PlanDefinition, route: ResolvedRoute, method: string, bare: string) => {
    const limits = limitsOf(record, plan)
    const reserved = reserve(record.id, plan)
    if (!reserved) return undefined
    const usageRoute = route.pattern?.source ?? `${method} ${bare}`
    const done = (decisions: RateDecision[] | undefined) => {
      if (!decisions) {
        void giveBackQuota(keys, record.id, reserved)
        return undefined
      }
      if (decisions.length === 0)
        return new KeyGrant(rt, keys, record, plan, usageRoute, reserved, undefined, undefined)
      // One limit (a tiered plan's): its member alone, no array built.
      const state =
        decisions.length === 1
          ? rateLimitState(limits.labels[0] as string, decisions[0] as RateDecision)
          : decisions.map((d, i) => rateLimitState(limits.labels[i] as string, d)).join(', ')
      return new KeyGrant(rt, keys, record, plan, usageRoute, reserved, limits.policy, state)
    }
    let decisions: ReturnType<typeof consume>
    try {
      decisions = consume(limits, 0, [])
    } catch {
      decisions = undefined
    }
    return decisions instanceof Promise ? decisions.then(done) : done(decisions)
  }
  return {
    eligible: (route) => fast.has(route),
    begin(route, key, method, path) {
      const found = keys.lookup.findNow(key)
      if (found === undefined) {
        // Not cached yet: looked up once (the store), then served here if it may be.
        return keys.lookup.find(key).then(
          (looked) => (looked.ok ? open(looked.record, looked.plan, route, method, path) : undefined),
          () => undefined,
        )
      }
      return found.ok ? open(found.record, found.plan, route, method, path) : undefined
    },
  }

  function open(record: ApiKeyRecord, plan: PlanDefinition, route: ResolvedRoute, method: string, path: string) {
    // A plan that bills per call, or one that does not cover the route: the full path decides.
    if (plan.billing !== 'included') return undefined
    const query = path.indexOf('?')
    const bare = query === -1 ? path : path.slice(0, query)
    if (!planCovers(plan, method, bare)) return undefined
    return grant(record, plan, route, method, bare)
  }
}

/** The policy's allowance (the `q` of `RateLimit-Policy`), as the stores report it. */
const allowance = (limit: ResolvedLimit) =>
  limit.policy.algorithm === 'token-bucket' ? limit.policy.capacity : limit.policy.limit

/**
 * One unit from each limit from the `i`-th on, in order: decided at once by a store in
 * memory, else one round trip each. `undefined` when one refuses or fails: what the ones
 * before it took goes back, and the full path takes the limits again (and answers 429 or
 * 503, logging an outage once).
 */
function consume(
  known: KeyLimits,
  i: number,
  decisions: RateDecision[],
): RateDecision[] | undefined | Promise<RateDecision[] | undefined> {
  const { limits, counters } = known
  for (; i < limits.length; i++) {
    const limit = limits[i] as ResolvedLimit
    const counter = counters[i] as string
    const now = limit.store.consumeNow?.(counter, 1, limit.policy)
    if (now === undefined) {
      const at = i
      return limit.store.consume(counter, 1, limit.policy).then(
        (decision) => {
          answered(limit.store)
          if (!decision.ok) return refundBefore(known, at)
          decisions.push(decision)
          return consume(known, at + 1, decisions)
        },
        () => refundBefore(known, at),
      )
    }
    if (!now.ok) return refundBefore(known, i)
    decisions.push(now)
  }
  return decisions
}

/** Gives back what the limits before the `i`-th took (in order on one store: before the full path takes them again). */
function refundBefore(known: KeyLimits, i: number): undefined {
  for (let j = 0; j < i; j++) {
    const limit = known.limits[j] as ResolvedLimit
    void limit.store.refund(known.counters[j] as string, 1, limit.policy).catch(() => {})
  }
  return undefined
}
