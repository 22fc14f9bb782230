/**
 * A Map of recent entries with a bounded size: once it holds `maxSize` entries, those older
 * than `ttlMs` are forgotten (and, if that is not enough, all of them). Each entry keeps the
 * time it was set, for callers that also check freshness.
 */
export function recentMap<V>(maxSize: number, ttlMs: number) {
  const map = new Map<string, { value: V; at: number }>()
  return {
    get: (key: string) => map.get(key),
    has: (key: string) => map.has(key),
    delete: (key: string) => map.delete(key),
    set(key: string, value: V) {
      const now = Date.now()
      if (map.size >= maxSize) {
        for (const [k, entry] of map) if (now - entry.at > ttlMs) map.delete(k)
        if (map.size >= maxSize) map.clear()
      }
      map.set(key, { value, at: now })
    },
  }
}
