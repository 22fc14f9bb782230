/**
 * Sign-in nonces already used, each kept until its proof expires, so that a proof seen
 * once (a log, a proxy) cannot be used again. Per process.
 */
export function createSpentNonces(): (key: string, expiresAt: number) => boolean {
  const spent = new Map<string, number>()
  let sweepAt = 10_000
  /** `true` the first time a key is spent, `false` after. */
  return (key, expiresAt) => {
    const now = Date.now()
    if (spent.size >= sweepAt) {
      // Amortised: a sweep runs when the map has doubled since the last one.
      for (const [k, t] of spent) if (t <= now) spent.delete(k)
      sweepAt = Math.max(10_000, spent.size * 2)
    }
    if (spent.has(key)) return false
    spent.set(key, expiresAt)
    return true
  }
}
