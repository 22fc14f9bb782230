/**
 * Latency bins (upper bounds in ms), about 20 % apart from 0.25 ms to 2 minutes: a
 * percentile read from them is within a bin's width of the true one.
 */
export const latencyBins: readonly number[] = (() => {
  const bounds: number[] = []
  for (let bound = 0.25; bound < 120_000; bound *= 1.2) bounds.push(Number(bound.toPrecision(3)))
  bounds.push(Number.POSITIVE_INFINITY)
  return bounds
})()

/**
 * The bin of a duration (ms): the first whose upper bound holds it.
 *
 * @example
 * latencyBinOf(3.2) // an index into latencyBins
 */
export function latencyBinOf(ms: number): number {
  let lo = 0
  let hi = latencyBins.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ms <= (latencyBins[mid] as number)) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * The `q` quantile (0 < q ≤ 1) of a histogram (counts per bin), as the upper bound of the
 * bin it falls in (the last bin, unbounded, reads as the one before it); `null` when empty.
 *
 * @example
 * percentile([0, 3, 1], 0.95) // latencyBins[2]
 */
export function percentile(counts: ArrayLike<number | undefined>, q: number): number | null {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i] ?? 0
  if (total === 0) return null
  const rank = Math.ceil(q * total)
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0
    if (seen >= rank) {
      const bound = latencyBins[i] as number
      return Number.isFinite(bound) ? bound : (latencyBins[latencyBins.length - 2] as number)
    }
  }
  return null
}
