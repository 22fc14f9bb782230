import type { Logger } from 'pino'
import type { Registry } from 'prom-client'

/**
 * The `metrics` option: Prometheus metrics at `/__402x/metrics` (docs/observability.md).
 * On by default; `false` turns the endpoint and the counting off.
 *
 * @example
 * x402Middleware({ price: 0.01, metrics: { token: process.env.X402_METRICS_TOKEN } })
 */
export type MetricsOptions = {
  /**
   * A bearer token for the scrape, apart from the admin token (which is always accepted).
   * @default `X402_METRICS_TOKEN`; without either, as the admin API: loopback on the local chain only
   */
  token?: string
  /**
   * A prom-client `Registry` of your own (e.g. one with `collectDefaultMetrics`), shared by
   * several paywalls; the endpoint then serves all of it.
   * @default a registry of this paywall's own (never prom-client's global one)
   */
  registry?: Registry
}

/**
 * The `logger` option: structured JSON logs (pino), one line per request plus warnings and
 * errors; secrets are never written.
 * - a pino `Logger`: 402x logs through a child of it (`{ name: '402x' }`), with redaction;
 * - `true`: a pino logger on stdout at `X402_LOG_LEVEL` (default `info`);
 * - `false` (the default): nothing is logged.
 *
 * @example
 * import pino from 'pino'
 * x402Middleware({ price: 0.01, logger: pino() })
 */
export type LoggerOption = Logger | boolean
