import type { PaywallRuntime } from '../pipeline/runtime.js'
import { createWebhooks, type WebhookService } from './createWebhooks.js'

/**
 * The paywall's webhooks on its ledger's outbox (`rt.webhooks`), or `undefined` for a
 * ledger of the seller's own without one and no webhook given (the admin API then says so).
 *
 * @example
 * const webhooks = startWebhooks(rt)
 */
export function startWebhooks(rt: PaywallRuntime): WebhookService | undefined {
  const { fixed, timings, localChain } = rt.config.webhooks
  if (!rt.ledger.outbox && fixed.length === 0) return undefined
  const service = createWebhooks({
    ledger: rt.ledger,
    fixed,
    timings,
    decimals: rt.decimals,
    localChain,
    onError: (error) => rt.events.emit('error', error),
  })
  rt.webhooks = service
  return service
}
