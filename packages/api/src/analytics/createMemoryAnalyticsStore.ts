import type { AnalyticsStore, MinuteRow } from './types.js'

/**
 * Minute aggregates in this process only (a ledger given as an object, tests): lost on exit.
 *
 * @example
 * const store = createMemoryAnalyticsStore()
 */
export function createMemoryAnalyticsStore(): AnalyticsStore {
  const byMinute = new Map<number, Map<string, MinuteRow>>()
  return {
    async add(rows) {
      for (const row of rows) {
        let minute = byMinute.get(row.minute)
        if (!minute) {
          minute = new Map()
          byMinute.set(row.minute, minute)
        }
        const id = `${row.dim}\u0000${row.key}\u0000${row.outcome}`
        const known = minute.get(id)
        if (known) {
          known.requests += row.requests
          known.amount += row.amount
        } else minute.set(id, { ...row })
      }
    },
    async read(fromMinute, toMinute) {
      const out: MinuteRow[] = []
      for (const [minute, rows] of byMinute) {
        if (minute < fromMinute || minute >= toMinute) continue
        for (const row of rows.values()) out.push({ ...row })
      }
      return out
    },
    async prune(beforeMinute) {
      for (const minute of byMinute.keys()) if (minute < beforeMinute) byMinute.delete(minute)
    },
    async close() {},
  }
}
