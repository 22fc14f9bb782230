/**
 * A label's values, at most `max` of them: past that, `other`. A route label is the
 * configured pattern, but the path itself on a paywall without a routes table, whose paths
 * are unbounded (`/api/weather/paris`, `/api/weather/oslo` …); Prometheus would keep a
 * series for each.
 *
 * @example
 * const route = boundedLabel(200)
 * metrics.requests.inc({ route: route(event.route) })
 */
export function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>()
  return (value) => {
    if (seen.has(value)) return value
    if (seen.size >= max) return 'other'
    seen.add(value)
    return value
  }
}
