/** Counts free requests per caller in fixed windows, in process. */
export type FreeCounter = {
  /** Takes one free request for `key`; `false` when the window's allowance is used up. */
  take(key: string, limit: number, windowMs: number): boolean
}

/**
 * The in-process counter behind `free: { requests, windowMs }`. Windows are fixed and start
 * at a caller's first request; stale entries are swept as the map grows.
 */
export function createFreeCounter(now = Date.now): FreeCounter {
  const windows = new Map<string, { used: number; resetAt: number }>()
  let sweepAt = 1024
  return {
    take(key, limit, windowMs) {
      const t = now()
      let entry = windows.get(key)
      if (!entry || entry.resetAt <= t) {
        if (windows.size >= sweepAt) {
          for (const [k, v] of windows) if (v.resetAt <= t) windows.delete(k)
          sweepAt = Math.max(1024, windows.size * 2)
        }
        entry = { used: 0, resetAt: t + windowMs }
        windows.set(key, entry)
      }
      if (entry.used >= limit) return false
      entry.used++
      return true
    },
  }
}
