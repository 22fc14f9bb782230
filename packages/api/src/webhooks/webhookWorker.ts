import { type DeliveryTimings, nextAttempt } from './backoff.js'
import { postWebhook } from './postWebhook.js'
import { secretKey, webhookHeaders } from './signWebhook.js'
import type { Delivery, Webhook, WebhookOutbox } from './types.js'

/** How many deliveries one tick sends at once, and how many events it fans out. */
const batch = 20

/**
 * The delivery worker: every `pollIntervalMs`, moves the events the credit and key stores
 * wrote into the outbox, fans new outbox events out to the webhooks,
 * leases the due deliveries (one owner at a time across instances) and POSTs each, signed;
 * a 2xx is delivered, anything else is tried again with backoff until `retryForMs`, then
 * `failed`. A crash leaves its leased rows pending: once the lease runs out (the timeout
 * and half a minute) another tick sends them.
 *
 * @example
 * const worker = startWebhookWorker({ outbox, owner, timings, localChain: false, webhooks: () => hooks, relay, onError })
 * await worker.stop()
 */
export function startWebhookWorker(input: {
  outbox: WebhookOutbox
  owner: string
  timings: DeliveryTimings
  localChain: boolean
  /** Every webhook known now (code, config, admin), read at each tick. */
  webhooks: () => Promise<{ all: Webhook[]; fanOut: Webhook[] }>
  /** Moves the events the credit and key stores wrote into the outbox, first (given every webhook). */
  relay: (webhooks: Webhook[]) => Promise<void>
  onError: (error: unknown) => void
}): { stop(): Promise<void>; tick(): Promise<void> } {
  const { outbox, owner, timings } = input
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const send = async (delivery: Delivery, hooks: Map<string, Webhook>) => {
    const hook = hooks.get(delivery.webhookId)
    const key = hook && secretKey(hook.secret)
    const result =
      hook && key
        ? await postWebhook({
            url: hook.url,
            headers: webhookHeaders(key, delivery.eventId, delivery.body),
            body: delivery.body,
            timeoutMs: timings.timeoutMs,
            localChain: input.localChain,
          })
        : { ok: false as const, error: 'the webhook is not registered on this instance any more' }
    await outbox.finish(
      delivery.id,
      owner,
      result.ok
        ? { delivered: true }
        : {
            delivered: false,
            error: result.error,
            retryAt: hook ? nextAttempt(delivery.attempts + 1, delivery.createdAt, timings) : undefined,
          },
    )
  }
  const tick = async () => {
    const { all, fanOut } = await input.webhooks()
    // No webhook anywhere: nothing is written to the outbox, nothing to send.
    if (all.length === 0) return
    await input.relay(all)
    while ((await outbox.dispatch(fanOut, 100)) === 100 && !stopped) {}
    const hooks = new Map(all.map((h) => [h.id, h]))
    // The lease outlasts an attempt: a row is sent twice only when its sender died.
    for (;;) {
      const due = await outbox.claim(owner, timings.timeoutMs + 30_000, batch)
      await Promise.all(due.map((d) => send(d, hooks).catch(input.onError)))
      if (due.length < batch || stopped) break
    }
  }
  const loop = () => {
    running = tick()
      .catch(input.onError)
      .finally(() => {
        running = undefined
        if (!stopped) {
          timer = setTimeout(loop, timings.pollIntervalMs)
          timer.unref()
        }
      })
  }
  timer = setTimeout(loop, 0)
  timer.unref()
  return {
    tick: async () => {
      await running
      await tick()
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
