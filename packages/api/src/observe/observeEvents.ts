import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { PaywallEvents } from '../paywall/types.js'
import { boundedLabel } from './boundedLabel.js'
import { errorFields } from './createLogger.js'
import type { PaywallMetrics } from './createMetrics.js'

/** At most this many route label values per paywall (see `boundedLabel`). */
const maxRoutes = 200

/**
 * Feeds the metrics and the logs from the paywall's events: `request` (one per request),
 * `payment` (settled or pending), `failed`, `rejected`, `undelivered` and `error`. Nothing
 * is listened to for what is off. Every line and label is built from the events' own
 * fields, which hold no secret (no header, token, key or signature).
 *
 * @example
 * observeEvents(rt.events, { metrics, logger, decimals: 6 })
 */
export function observeEvents(
  events: EventEmitter<PaywallEvents>,
  { metrics, logger }: { metrics: PaywallMetrics | undefined; logger: Logger | undefined },
): void {
  const route = boundedLabel(maxRoutes)
  if (metrics || logger)
    events.on('request', (e) => {
      if (metrics) {
        const label = route(e.route)
        metrics.requests.inc(label, e.outcome, e.status)
        metrics.requestDuration.observe(label, e.outcome, e.durationMs / 1000)
        if (e.outcome === 'credit' && e.amount > 0n) metrics.creditChargedAtomic.inc({ route: label }, Number(e.amount))
        if (e.reason === 'rate_limited') metrics.rateLimited.inc({ route: label })
      }
      if (logger) {
        const level = e.status >= 500 ? 'error' : 'info'
        logger[level](
          {
            requestId: e.requestId,
            ...(e.clientRequestId ? { clientRequestId: e.clientRequestId } : {}),
            method: e.method,
            route: e.route,
            path: e.path,
            status: e.status,
            outcome: e.outcome,
            ...(e.reason ? { reason: e.reason } : {}),
            durationMs: e.durationMs,
            amount: String(e.amount),
            ...(e.price !== undefined ? { price: e.price } : {}),
            network: e.network,
            ...(e.paymentId ? { paymentId: e.paymentId } : {}),
            ...(e.payer ? { payer: e.payer } : {}),
            ...(e.account ? { account: e.account } : {}),
            ...(e.keyId ? { keyId: e.keyId } : {}),
            ...(e.plan ? { plan: e.plan } : {}),
            ...(e.ip ? { ip: e.ip } : {}),
          },
          `${e.method} ${e.path} ${e.status} ${e.outcome}`,
        )
      }
    })
  events.on('payment', (p) => {
    metrics?.payments.inc({ network: p.network, asset: p.asset.toLowerCase(), state: p.state })
    metrics?.revenueAtomic.inc({ network: p.network, asset: p.asset.toLowerCase() }, Number(p.amount))
    metrics?.revenueDollars.inc({ network: p.network, asset: p.asset.toLowerCase() }, Number(p.price))
    logger?.info(
      {
        paymentId: p.id,
        state: p.state,
        payer: p.payer,
        amount: String(p.amount),
        price: p.price,
        network: p.network,
        transaction: p.transaction,
        resource: p.resource,
      },
      `payment ${p.state}: $${p.price} from ${p.payer}`,
    )
  })
  events.on('failed', (f) => {
    metrics?.payments.inc({ network: f.settle?.network ?? '', asset: '', state: 'failed' })
    logger?.warn({ paymentId: f.id, payer: f.payer, reason: f.reason }, `settlement failed: ${f.reason}`)
  })
  if (metrics) events.on('rejected', (r) => metrics.rejected.inc({ reason: r.reason }))
  if (logger) {
    events.on('undelivered', (u) =>
      logger.warn(
        { paymentId: u.id, payer: u.payer },
        'a paid answer did not reach its caller: a retry is served free',
      ),
    )
    events.on('error', (error) => logger.error(errorFields(error), `402x: ${errorFields(error).err}`))
  }
}
