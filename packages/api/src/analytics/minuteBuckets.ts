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
 * request is four additions to a map, nothing more on the request's path.
 *
 * @example
 * const buckets = createMinuteBuckets()
 * buckets.add(request, 'US')
 * await store.add(buckets.drain())
 */
export function createMinuteBuckets() {
  let rows = new Map<string, MinuteRow>()
  const bump = (minute: number, dim: MinuteRow['dim'], key: string, outcome: string, amount: bigint) => {
    const id = `${minute}\u0000${dim}\u0000${key}\u0000${outcome}`
    const row = rows.get(id)
    if (row) {
      row.requests += 1
      row.amount += amount
    } else rows.set(id, { minute, dim, key, outcome, requests: 1, amount })
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
      const out = [...rows.values()]
      rows = new Map()
      return out
    },
    /** The rows not drained yet, left in place. */
    peek(): MinuteRow[] {
      return [...rows.values()].map((row) => ({ ...row }))
    },
    get size() {
      return rows.size
    },
  }
}

export type MinuteBuckets = ReturnType<typeof createMinuteBuckets>
