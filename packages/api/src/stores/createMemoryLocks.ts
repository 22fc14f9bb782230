import type { Locks } from './types.js'

/**
 * Locks for one process (the default). Several gateway instances share Redis locks instead.
 *
 * @example
 * const locks = createMemoryLocks()
 * if (await locks.acquire(key, 60_000)) try { … } finally { await locks.release(key) }
 */
export function createMemoryLocks(): Locks {
  const held = new Map<string, number>()
  return {
    async acquire(key, ttlMs) {
      // Checked and set in one synchronous step: concurrent acquirers cannot interleave.
      const now = Date.now()
      const until = held.get(key)
      if (until !== undefined && until > now) return false
      held.set(key, now + ttlMs)
      return true
    },
    async release(key) {
      held.delete(key)
    },
  }
}
