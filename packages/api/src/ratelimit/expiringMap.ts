import type { Step } from './algorithm.js'

/**
 * States by key, each forgotten once it is worth nothing. Expired entries are swept when the
 * map has doubled since the last sweep, as `createMemoryCounters` does: memory stays bounded
 * by the keys seen in the longest window, at an amortised O(1) per write.
 */
export function createExpiringMap<S>() {
  const entries = new Map<string, Step<S>>()
  let sweepAt = 1024
  return {
    get(key: string, t: number): S | undefined {
      const entry = entries.get(key)
      return entry && entry.expiresAt > t ? entry.state : undefined
    },
    set(key: string, step: Step<S>, t: number): void {
      if (step.expiresAt <= t) {
        entries.delete(key)
        return
      }
      if (!entries.has(key) && entries.size >= sweepAt) {
        for (const [k, v] of entries) if (v.expiresAt <= t) entries.delete(k)
        sweepAt = Math.max(1024, entries.size * 2)
      }
      entries.set(key, step)
    },
    get size(): number {
      return entries.size
    },
  }
}
