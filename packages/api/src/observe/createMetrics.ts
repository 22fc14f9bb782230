import { X402Error } from '@402x/core'
import { Counter, Histogram, Registry } from 'prom-client'
import { RequestCounter, RequestHistogram } from './requestMetrics.js'

// Latencies from 1 ms (a cached credit draw) to 30 s (a settlement waiting for its block).
const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** The metrics of one paywall (docs/observability.md lists them with their labels). */
export type PaywallMetrics = ReturnType<typeof createMetrics>

/**
 * The paywall's Prometheus metrics, registered on `registry` (a fresh one by default, never
 * prom-client's global registry). On a registry shared by several paywalls each metric is
 * made once and then reused: their counts add up.
 *
 * @example
 * const metrics = createMetrics()
 * metrics.requests.inc('GET /api/data', 'paid', 200)
 * const text = await metrics.registry.metrics()
 */
export function createMetrics(registry: Registry = new Registry()) {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram<L>({ name, help, labelNames, buckets: latencyBuckets, registers: [registry] })
  // The two that every request moves: 402x's own (requestMetrics.ts), the same exposition.
  const requests = 'x402_requests_total'
  const durations = 'x402_request_duration_seconds'
  return {
    registry,
    requests: ours(
      registry,
      requests,
      RequestCounter,
      () => new RequestCounter(requests, 'Requests the paywall answered, by route, outcome and status', registry),
    ),
    requestDuration: ours(
      registry,
      durations,
      RequestHistogram,
      () =>
        new RequestHistogram(
          durations,
          'Time until a request’s answer was decided (after the handler for paid ones)',
          latencyBuckets,
          registry,
        ),
    ),
    payments: counter('x402_payments_total', 'x402 payments by network, asset and state (settled, pending, failed)', [
      'network',
      'asset',
      'state',
    ]),
    revenueAtomic: counter(
      'x402_revenue_atomic_total',
      'Money received by settled or pending x402 payments, in the asset’s atomic units (USDC: 1e-6 dollar)',
      ['network', 'asset'],
    ),
    revenueDollars: counter(
      'x402_revenue_dollars_total',
      'Money received by settled or pending x402 payments, in dollars (atomic units over 10^decimals)',
      ['network', 'asset'],
    ),
    creditChargedAtomic: counter(
      'x402_credit_charged_atomic_total',
      'Prepaid credit drawn by requests, in atomic units',
      ['route'],
    ),
    rejected: counter('x402_payments_rejected_total', 'Payment attempts refused, by reason code', ['reason']),
    rateLimited: counter('x402_rate_limited_total', 'Requests refused 429 by a rate limit, by route', ['route']),
    settlementDuration: histogram(
      'x402_settlement_duration_seconds',
      'Time the facilitator took to settle a payment, by network and result',
      ['network', 'result'],
    ),
    facilitatorDuration: histogram(
      'x402_facilitator_duration_seconds',
      'Time of each facilitator call, by operation and result',
      ['operation', 'result'],
    ),
    facilitatorErrors: counter(
      'x402_facilitator_errors_total',
      'Facilitator calls that failed (unreachable, or an error answer), by operation',
      ['operation'],
    ),
    storeDuration: histogram('x402_store_duration_seconds', 'Time of each store call, by store and operation', [
      'store',
      'operation',
    ]),
    storeErrors: counter('x402_store_errors_total', 'Store calls that failed, by store and operation', [
      'store',
      'operation',
    ]),
  }
}

/**
 * The metric `name` of `registry` when it is of `kind` (a registry shared by several
 * paywalls: made once, then reused), else a new one; a metric of that name made by
 * something else is a mistake to say at start-up.
 */
function ours<T>(registry: Registry, name: string, kind: abstract new (...args: never[]) => T, make: () => T): T {
  const existing = registry.getSingleMetric(name)
  if (existing === undefined) return make()
  if (existing instanceof kind) return existing
  throw new X402Error('invalid_config', {
    message: `the metrics registry already has a metric named ${name} that 402x did not make: give the paywall a registry without it (metrics: { registry })`,
    details: { option: 'metrics.registry' },
  })
}
