import { X402Error } from '@402x/core'
import type { Logger } from 'pino'
import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import type { PaywallRuntime } from '../pipeline/runtime.js'
import { resolveLogger } from './createLogger.js'
import { createMetrics, type PaywallMetrics } from './createMetrics.js'
import { instrumentFacilitator } from './instrumentFacilitator.js'
import { instrumentStore } from './instrumentStore.js'
import { metricsPath, metricsRoute } from './metricsEndpoint.js'
import { observeEvents } from './observeEvents.js'

/** A paywall's metrics, logger and the metrics token (docs/observability.md). */
export type Observability = {
  /** `undefined` with `metrics: false`. */
  metrics: PaywallMetrics | undefined
  /** `undefined` without `logger`. */
  logger: Logger | undefined
  metricsToken: string | undefined
  /** `/__402x/metrics`, for `match` (none with `metrics: false`). */
  specials: { path: string; route: ResolvedRoute }[]
  /** Listens to the paywall's events (metrics, logs) and puts itself on the runtime. */
  attach(rt: PaywallRuntime): void
}

/**
 * Reads the `metrics` and `logger` options and wraps the facilitator and the payments ledger
 * of `config` in place (timing, spans, errors: `instrumentFacilitator`, `instrumentStore`),
 * before the runtime is built from it.
 *
 * @example
 * const observe = createObservability(options, config)
 * const rt = createRuntime(options, config, locks)
 * observe.attach(rt)
 */
export function createObservability(
  options: PaywallOptions,
  config: ResolvedPaywall,
  env: Record<string, string | undefined> = process.env,
): Observability {
  const logger = resolveLogger(options.logger, env)
  const given = options.metrics
  if (given !== undefined && given !== false && (typeof given !== 'object' || given === null))
    throw new X402Error('invalid_config', {
      message: 'metrics must be an object ({ token, registry }) or false: see docs/observability.md',
      details: { option: 'metrics' },
    })
  const metrics = given === false ? undefined : createMetrics(given?.registry)
  const metricsToken = (given ? given.token : undefined) || env.X402_METRICS_TOKEN || undefined
  config.facilitator = instrumentFacilitator(config.facilitator, { metrics, logger })
  config.ledger = instrumentStore('ledger', config.ledger, { metrics, logger })
  return {
    metrics,
    logger,
    metricsToken,
    specials: metrics ? [{ path: metricsPath, route: metricsRoute }] : [],
    attach(rt) {
      rt.observe = this
      observeEvents(rt.events, { metrics, logger })
    },
  }
}
