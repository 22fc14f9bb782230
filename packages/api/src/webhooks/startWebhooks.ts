import type { PaywallRuntime } from '../pipeline/runtime.js'
import { createWebhooks, type EventStore, type WebhookService } from './createWebhooks.js'

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
    stores: () => eventStores(rt),
    onError: (error) => rt.events.emit('error', error),
  })
  rt.webhooks = service
  return service
}

/**
 * The paywall's stores that write webhook events with their changes: credit (top-ups, the
 * unused part of a metered payment given back) and keys (made, revoked), where they are on.
 */
function eventStores(rt: PaywallRuntime): EventStore[] {
  const stores: EventStore[] = []
  const { credits, keys } = rt.config
  if (credits)
    stores.push({
      name: 'credit store',
      types: ['credit.topped_up', 'payment.refunded'],
      events: () => credits.service.ledger().webhookEvents,
    })
  if (keys)
    stores.push({ name: 'key store', types: ['key.created', 'key.revoked'], events: () => keys.store.webhookEvents })
  return stores
}
