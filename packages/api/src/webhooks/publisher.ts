import type { Webhook, WebhookOutbox } from './types.js'

/** How often a paywall says again that it has its code and config webhooks (`seenAt`). */
export const publishEveryMs = 60_000

/**
 * Publishes a paywall's code and config webhooks into its ledger's table, at most once a
 * minute (a write, on a ledger every paywall writes to): at start, then so that the other
 * paywalls see they are still served (`keptUnseenMs`). A failed write is tried at the next call.
 *
 * @example
 * const publish = publisher(outbox, fixed)
 * await publish() // at each tick
 */
export function publisher(outbox: WebhookOutbox, fixed: readonly Webhook[]): () => Promise<void> {
  let last = Number.NEGATIVE_INFINITY
  let running: Promise<void> | undefined
  return () => {
    const now = Date.now()
    if (fixed.length === 0 || now - last < publishEveryMs) return Promise.resolve()
    running ??= outbox
      .publish(fixed, now)
      .then(() => {
        last = now
      })
      .finally(() => {
        running = undefined
      })
    return running
  }
}
