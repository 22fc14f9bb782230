import { latencyBinOf } from './latencyHistogram.js'
import type { MinuteRow, Outcome, RecordedRequest } from './types.js'

/** The dashboard's outcome of a request: served by its funding, refused by its status. */
export function outcomeOf(request: Pick<RecordedRequest, 'outcome' | 'status'>): Outcome {
  const { outcome, status } = request
  if (outcome !== 'refused' && outcome !== 'error') return outcome
  if (status >= 500 || outcome === 'error') return '5xx'
  if (status === 402) return '402'
  if (status === 429) return '429'
  return '4xx'
}

/** Who a request is counted for: `payer:0x…`, `key:…`, `account:…`; `undefined`: nobody known. */
export function userOf(request: Pick<RecordedRequest, 'payer' | 'keyId' | 'account'>): string | undefined {
  if (request.keyId) return `key:${request.keyId}`
  if (request.account) return `account:${request.account}`
  if (request.payer) return `payer:${request.payer.toLowerCase()}`
  return undefined
}

/**
 * Per-minute aggregates of requests kept in memory until they are written (`drain`): a
 * request is four additions to maps, nothing more on the request's path.
 *
 * @example
 * const buckets = createMinuteBuckets()
 * buckets.add(request, 'US')
 * await store.add(buckets.drain())
 */
export function createMinuteBuckets() {
  // Nested by minute, dimension, outcome and key: a request's four additions look up strings it
  // already holds (its route, its country) instead of building and hashing one id per addition.
  let rows = new Map<number, Map<string, Map<string, Map<string, MinuteRow>>>>()
  let count = 0
  const inner = <V>(map: Map<string, Map<string, V>>, at: string): Map<string, V> => {
    let found = map.get(at)
    if (!found) {
      found = new Map()
      map.set(at, found)
    }
    return found
  }
  const bump = (minute: number, dim: MinuteRow['dim'], key: string, outcome: string, amount: bigint) => {
    let byDim = rows.get(minute)
    if (!byDim) {
      byDim = new Map()
      rows.set(minute, byDim)
    }
    const byKey = inner(inner(byDim, dim), outcome)
    const row = byKey.get(key)
    if (row) {
      row.requests += 1
      if (amount !== 0n) row.amount += amount
    } else {
      byKey.set(key, { minute, dim, key, outcome, requests: 1, amount })
      count++
    }
  }
  const all = function* () {
    for (const byDim of rows.values())
      for (const byOutcome of byDim.values()) for (const byKey of byOutcome.values()) yield* byKey.values()
  }
  return {
    /** Counts one request, in the minute it arrived. */
    add(request: RecordedRequest, country: string): void {
      const minute = Math.floor(request.at / 60_000)
      const outcome = outcomeOf(request)
      const charged = outcome === 'paid' || outcome === 'credit' || outcome === 'key' ? request.amount : 0n
      bump(minute, 'route', request.route, outcome, charged)
      bump(minute, 'country', country, outcome, charged)
      const user = userOf(request)
      if (user) bump(minute, 'user', user, outcome, charged)
      bump(minute, 'latency', request.route, String(latencyBinOf(request.durationMs)), 0n)
    },
    /** The rows counted since the last drain (copies), and an empty start. */
    drain(): MinuteRow[] {
      const out = [...all()]
      rows = new Map()
      count = 0
      return out
    },
    /** The rows not drained yet, left in place. */
    peek(): MinuteRow[] {
      return [...all()].map((row) => ({ ...row }))
    },
    get size() {
      return count
    },
  }
}

export type MinuteBuckets = ReturnType<typeof createMinuteBuckets>
