import { X402Error } from '@402x/core'
import { presentedKey } from '../keys/presentedKey.js'
import { errorResponse } from '../paywall/responses.js'
import { callerId } from './callerId.js'
import { callerIp } from './callerIp.js'
import { type RateLimitHeaderEntry, rateLimitHeaders } from './rateLimitHeaders.js'
import type { ResolvedLimit } from './resolveRateLimit.js'
import type { RateDecision, RateLimitStore } from './types.js'

/** Who calls, as the limits count them (the identity stage's, plus the request view). */
export type Caller = {
  /** The address the adapter saw (Express: `req.ip`, which follows `trust proxy`). */
  ip: string | undefined
  /** An API key the request carries, if any. */
  key: string | undefined
  /** The credit token the request carries, if any. */
  token: string | undefined
  /** The wallet whose signature the payment carries, once checked. */
  payer: string | undefined
  /** The request as pricing code sees it (for `cost` and `by` functions). */
  req: unknown
  /** The request's headers (a limit's own `keyHeader`). */
  headers: { get(name: string): string | null }
  /** Told when a limit counts this caller by IP and `ip` is unknown (warns once: noAddressWarning). */
  noAddress?: (() => void) | undefined
}

/** What the limits took: the headers every answer carries, and how to give it back. */
export type LimitsTaken = {
  headers: [string, string][]
  /** Gives back what was taken (a refused request that does not count); idempotent. */
  undo(): Promise<void>
  /** Whether a refused request should be given back (no limit has `countRejected`). */
  readonly refundsRefused: boolean
}

/**
 * Takes one request's units from each limit, in order, in one store round trip each: all
 * of them, or none (a limit that refuses gives back what the ones before it took). Answers
 * 429 `rate_limited` (with `Retry-After` and the limit's message), or 503
 * `store_unavailable` when a store is down and the limit fails closed; a limit whose store is
 * down and fails open is left out, logged once per outage.
 */
export async function takeLimits(limits: readonly ResolvedLimit[], caller: Caller): Promise<LimitsTaken | Response> {
  const taken: { limit: ResolvedLimit; key: string; cost: number }[] = []
  const shown: RateLimitHeaderEntry[] = []
  const undoAll = async () => {
    const all = taken.splice(0)
    await Promise.all(all.map((t) => t.limit.store.refund(t.key, t.cost, t.limit.policy).catch(() => {})))
  }
  for (const limit of limits) {
    const who = await callerOf(limit, caller)
    const cost = limit.cost ? await costOf(limit, caller.req) : 1
    const key = `${limit.prefix}:${who}`
    let decision: RateDecision
    try {
      decision = await limit.store.consume(key, cost, limit.policy)
      answered(limit.store)
    } catch (error) {
      failed(limit.store, error, limit)
      if (limit.onStoreError === 'fail-open') continue
      await undoAll()
      return errorResponse(
        503,
        'store_unavailable',
        'the rate-limit store cannot answer right now; nothing was charged: retry shortly',
        2,
      )
    }
    const entry = { policy: limit.policy, decision, key: who, name: limit.name }
    if (!decision.ok) {
      await undoAll()
      const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000))
      const response = errorResponse(
        429,
        'rate_limited',
        limit.message ?? `too many requests (${limit.name}): retry after ${retryAfter} s; nothing was charged`,
        retryAfter,
      )
      for (const [name, value] of headerPairs([...shown, entry])) response.headers.set(name, value)
      return response
    }
    taken.push({ limit, key, cost })
    shown.push(entry)
  }
  let undone = false
  return {
    headers: headerPairs(shown),
    refundsRefused: limits.every((l) => !l.countRejected),
    undo: async () => {
      if (undone) return
      undone = true
      await undoAll()
    },
  }
}

/** The id a limit counts this caller by (callerId.ts); a request without that identity, by IP. */
async function callerOf(limit: ResolvedLimit, caller: Caller): Promise<string> {
  const key =
    limit.by === 'key' && limit.keyHeader !== 'x-api-key' ? presentedKey(caller.headers, limit.keyHeader) : caller.key
  const sources = { ...caller, key }
  // On credit, a payer limit counts the token (the account's own proof).
  const by = limit.by === 'payer' && !caller.payer && caller.token ? 'token' : limit.by
  const id = (await callerId(by, sources, limit.ipv6Subnet)) ?? ipId(caller.ip, limit.ipv6Subnet)
  if (id === unknownIp) caller.noAddress?.()
  return id
}

// Without an address, one shared count: a limit still holds (rather than letting everyone
// through), and the seller is told once (`noAddress`).
const unknownIp = 'ip:unknown'
const ipId = (ip: string | undefined, subnet: number | false) => {
  const grouped = callerIp(ip, subnet)
  return grouped === undefined ? unknownIp : `ip:${grouped}`
}

async function costOf(limit: ResolvedLimit, req: unknown): Promise<number> {
  const cost = await (limit.cost as NonNullable<ResolvedLimit['cost']>)(req)
  if (!Number.isInteger(cost) || cost < 1) {
    throw new X402Error('internal_error', {
      message: `rateLimit.cost returned ${cost}: return a whole number of units ≥ 1 (nothing was charged)`,
    })
  }
  return cost
}

const headerPairs = (shown: RateLimitHeaderEntry[]): [string, string][] =>
  Object.entries(rateLimitHeaders(shown)).map(([name, value]) => [name.toLowerCase(), value as string])

// One line per outage and store, not one per request: the operator learns when it went and
// when it came back.
const down = new WeakSet<RateLimitStore>()

function failed(store: RateLimitStore, error: unknown, limit: ResolvedLimit) {
  if (down.has(store)) return
  down.add(store)
  const what =
    limit.onStoreError === 'fail-open' ? 'requests are served without this limit' : 'limited routes answer 503'
  console.warn(
    `402x: the rate-limit store cannot answer (${(error as Error).message}): ${what} until it is back (logged once)`,
  )
}

/** A store answered: if it was down, says once that it is back (the Node fast path calls it too). */
export function answered(store: RateLimitStore): void {
  if (!down.has(store)) return
  down.delete(store)
  console.warn('402x: the rate-limit store answers again: limits apply as configured')
}
