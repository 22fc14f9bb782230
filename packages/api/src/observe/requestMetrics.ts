import type { Metric, Registry } from 'prom-client'

// The two metrics every request moves (`x402_requests_total`, `x402_request_duration_seconds`),
// counted without prom-client's per-call work (a labels object, its hash string, a check of
// its names): a request finds its series through maps keyed by its label values, and the
// registry reads the series as prom-client's own Counter and Histogram write them (the same
// exposition, line for line: requestMetrics.test.ts compares the two). The rarer metrics stay
// prom-client's.

type Series<T> = Map<string, T>

/** The map under `key` of `outer`, made empty the first time. */
function inner<K, V>(outer: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let found = outer.get(key)
  if (!found) {
    found = new Map()
    outer.set(key, found)
  }
  return found
}

/** One value as prom-client's registry reads it (`metricName` for a histogram's lines). */
type Value = {
  value: number
  labels: Record<string, string | number>
  metricName?: string
  sharedLabels?: Record<string, string>
  exemplar?: null
}

/** What prom-client's registry reads of a metric (`get`, `getForPromString`). */
type Read = { name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: Value[] }

/** The part of prom-client's metric contract the registry uses (`registerMetric`, `getSingleMetric`, `resetMetrics`). */
abstract class RegisteredMetric {
  readonly aggregator = 'sum' as const
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric)
  }
  abstract get(): Promise<Read>
  abstract reset(): void
}

/** One series of {@link RequestCounter}. */
type CountSeries = { labels: { route: string; outcome: string; status: string }; value: number }

/**
 * `x402_requests_total`: requests by route, outcome and status, as a prom-client `Counter`
 * of those label names writes them.
 *
 * @example
 * const requests = new RequestCounter('x402_requests_total', 'Requests …', registry)
 * requests.inc('GET /api/data', 'paid', 200)
 */
export class RequestCounter extends RegisteredMetric {
  private series: Series<Series<Map<number, CountSeries>>> = new Map()
  /** In the order they were first counted: the order prom-client shows them in. */
  private order: CountSeries[] = []

  constructor(name: string, help: string, registry: Registry) {
    super(name, help, 'counter', registry)
  }

  inc(route: string, outcome: string, status: number, by = 1): void {
    const byStatus = inner(inner(this.series, route), outcome)
    let one = byStatus.get(status)
    if (!one) {
      one = { labels: { route, outcome, status: String(status) }, value: 0 }
      byStatus.set(status, one)
      this.order.push(one)
    }
    one.value += by
  }

  async get(): Promise<Read> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.order.map((one) => ({ value: one.value, labels: { ...one.labels } })),
    }
  }

  reset(): void {
    this.series = new Map()
    this.order = []
  }
}

/** One series of {@link RequestHistogram}: a count per bucket (not cumulative), the sum and the count. */
type TimeSeries = { labels: { route: string; outcome: string }; buckets: Float64Array; sum: number; count: number }

/**
 * `x402_request_duration_seconds`: time to the answer's decision by route and outcome, as a
 * prom-client `Histogram` of those label names and `buckets` writes it.
 *
 * @example
 * const durations = new RequestHistogram('x402_request_duration_seconds', 'Time …', [0.01, 0.1, 1], registry)
 * durations.observe('GET /api/data', 'paid', 0.004)
 */
export class RequestHistogram extends RegisteredMetric {
  private series: Series<Map<string, TimeSeries>> = new Map()
  private order: TimeSeries[] = []

  constructor(
    name: string,
    help: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, 'histogram', registry)
  }

  observe(route: string, outcome: string, seconds: number): void {
    // As prom-client: a value that is not a number is refused (and counts nowhere).
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`)
    const byOutcome = inner(this.series, route)
    let one = byOutcome.get(outcome)
    if (!one) {
      one = { labels: { route, outcome }, buckets: new Float64Array(this.upperBounds.length), sum: 0, count: 0 }
      byOutcome.set(outcome, one)
      this.order.push(one)
    }
    // The first bucket that holds the value (none: only +Inf does, which is the count).
    const bounds = this.upperBounds
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        ;(one.buckets[i] as number) += 1
        break
      }
    }
    one.sum += seconds
    one.count += 1
  }

  /** prom-client's shape for the text exposition: `le` apart from the series' own labels (`sharedLabels`). */
  async getForPromString(): Promise<Read> {
    const name = `${this.name}_bucket`
    const values: Value[] = []
    for (const one of this.order) {
      let running = 0
      for (const [i, le] of this.upperBounds.entries()) {
        running += one.buckets[i] as number
        values.push(pair({ le }, running, name, one.labels, null))
      }
      values.push(pair({ le: '+Inf' }, one.count, name, one.labels, null))
      values.push(pair({}, one.sum, `${this.name}_sum`, one.labels, undefined))
      values.push(pair({}, one.count, `${this.name}_count`, one.labels, undefined))
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    }
  }

  /** As prom-client's `get()`: each value's labels with the series' own merged in. */
  async get(): Promise<Read> {
    const read = await this.getForPromString()
    return {
      ...read,
      values: read.values.map((v) => {
        const { sharedLabels, labels, ...rest } = v
        return { ...rest, labels: { ...labels, ...sharedLabels } }
      }),
    }
  }

  reset(): void {
    this.series = new Map()
    this.order = []
  }
}

/**
 * One exposition line's value, as prom-client's histogram builds it: the series' labels as
 * `sharedLabels`, the same object on every line of a series (the registry formats it once).
 */
const pair = (
  labels: Record<string, string | number>,
  value: number,
  metricName: string,
  shared: Record<string, string>,
  exemplar: null | undefined,
): Value => ({ labels, sharedLabels: shared, value, metricName, exemplar }) as Value
