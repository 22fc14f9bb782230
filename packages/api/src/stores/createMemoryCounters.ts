import type { Counters } from './types.js'

/**
 * Fixed-window counters for one process (the default): the free tier's. Windows start at a
 * key's first take; stale entries are swept as the map grows.
 *
 * @example
 * const counters = createMemoryCounters()
 * const { ok } = await counters.take('route:1.2.3.4', 1, 100, 86_400_000)
 */
export function createMemoryCounters(now = Date.now): Counters {
  const windows = new Map<string, { used: number; resetAt: number }>()
  let sweepAt = 1024
  return {
    async take(key, cost, limit, windowMs) {
      const t = now()
      let entry = windows.get(key)
      if (!entry || entry.resetAt <= t) {
        if (windows.size >= sweepAt) {
          // Amortised: a sweep runs when the map has doubled since the last one.
          for (const [k, v] of windows) if (v.resetAt <= t) windows.delete(k)
          sweepAt = Math.max(1024, windows.size * 2)
        }
        entry = { used: 0, resetAt: t + windowMs }
        windows.set(key, entry)
      }
      const ok = entry.used + cost <= limit
      if (ok) entry.used += cost
      return { ok, remaining: limit - entry.used, resetAt: entry.resetAt }
    },
  }
}
