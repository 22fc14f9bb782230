/**
 * In-flight locks on (network, asset, payer, nonce): between verify and settle nothing on
 * chain stops the same signature being presented twice at once, so this does.
 */
export type Locks = {
  /** Takes the lock; `false` if someone holds it. Expires after `ttlMs` as a safety net. */
  acquire(key: string, ttlMs: number): Promise<boolean>
  release(key: string): Promise<void>
}

/** Locks for one process. Several gateway instances share Redis locks instead. */
export function createMemoryLocks(): Locks {
  const held = new Map<string, number>()
  return {
    async acquire(key, ttlMs) {
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
