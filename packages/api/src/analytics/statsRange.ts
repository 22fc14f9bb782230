/** The dashboard's time ranges. */
export type StatsRange = 'hour' | 'day' | '30d'

export const statsRanges: readonly StatsRange[] = ['hour', 'day', '30d']

const spans: Record<StatsRange, { spanMs: number; stepMs: number }> = {
  hour: { spanMs: 3_600_000, stepMs: 60_000 },
  day: { spanMs: 86_400_000, stepMs: 900_000 },
  '30d': { spanMs: 30 * 86_400_000, stepMs: 3_600_000 },
}

/**
 * A range's window ending `now`: its start on a step boundary (so every slot of the
 * series is a whole step of wall-clock time, and a whole number of minutes), and its step.
 *
 * @example
 * const { from, to, stepMs } = rangeWindow('hour')
 */
export function rangeWindow(range: StatsRange, now = Date.now()) {
  const { spanMs, stepMs } = spans[range]
  const from = Math.ceil((now - spanMs) / stepMs) * stepMs
  return { from, to: now, stepMs, slots: Math.max(1, Math.ceil((now - from) / stepMs)) }
}
