import { type DeliveryTimings, nextAttempt } from './backoff.js'
import { postWebhook } from './postWebhook.js'
import { secretKey, webhookHeaders } from './signWebhook.js'
import type { Delivery, StoredWebhook, Webhook, WebhookOutbox } from './types.js'

/** How many deliveries one tick sends at once, and how many events it fans out. */
const batch = 20

/** What a delivery nobody sent says: the paywalls that had its webhook are gone, or all down. */
export const unservedError =
  'no paywall on this ledger sent it within retryForMs: none has this webhook in its code or 402x.config.json any more (or all of them were down)'

/**
 * How long a code or config webhook no paywall publishes any more is still fanned out to:
 * as long as an event is tried (a paywall that has it may be down, or being rolled out),
 * at least ten minutes (ten of the minute between two publishes of a paywall that has it).
 */
export const keptUnseenMs = (t: DeliveryTimings) => Math.max(t.retryForMs, 600_000)

/**
 * The delivery worker: every `pollIntervalMs`, moves the events the credit and key stores
 * wrote into the outbox, fans new outbox events out to every webhook of the ledger (those of
 * the other paywalls on it too), leases the due deliveries of the webhooks it can sign for
 * (one owner at a time across instances; those of a webhook only another paywall has are
 * left to it) and POSTs each, signed; a 2xx is delivered, anything else is tried again with
 * backoff until `retryForMs`, then `failed`. A crash leaves its leased rows pending: once
 * the lease runs out (the timeout and half a minute) another tick sends them. A delivery no
 * paywall can send (its webhook is in no one's code any more) is `failed` once its event is
 * older than `retryForMs` and it is overdue by a lease and a poll (looked for once a minute),
 * with `unservedError`.
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
  /**
   * Read at each tick: every webhook of the ledger (`all`), those this paywall can sign for
   * (`serving`: its own and the admin ones, with their secrets), and its own (`fanOut`).
   */
  webhooks: () => Promise<{ all: readonly StoredWebhook[]; serving: readonly Webhook[]; fanOut: readonly Webhook[] }>
  /** Moves the events the credit and key stores wrote into the outbox, first (given every webhook). */
  relay: (webhooks: readonly Pick<Webhook, 'events'>[]) => Promise<void>
  onError: (error: unknown) => void
}): { stop(): Promise<void>; tick(): Promise<void> } {
  const { outbox, owner, timings } = input
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const leaseMs = timings.timeoutMs + 30_000
  let swept = Number.NEGATIVE_INFINITY
  const send = async (delivery: Delivery, hook: Webhook) => {
    const key = secretKey(hook.secret)
    const result = key
      ? await postWebhook({
          url: hook.url,
          headers: webhookHeaders(key, delivery.eventId, delivery.body),
          body: delivery.body,
          timeoutMs: timings.timeoutMs,
          localChain: input.localChain,
        })
      : { ok: false as const, error: 'the webhook has no whsec_ secret: register it again' }
    await outbox.finish(
      delivery.id,
      owner,
      result.ok
        ? { delivered: true }
        : {
            delivered: false,
            error: result.error,
            retryAt: key ? nextAttempt(delivery.attempts + 1, delivery.createdAt, timings) : undefined,
          },
    )
  }
  const tick = async () => {
    const { all, serving, fanOut } = await input.webhooks()
    // No webhook anywhere: nothing is written to the outbox, nothing to send.
    if (all.length === 0) return
    await input.relay(all)
    const unseenSince = Date.now() - keptUnseenMs(timings)
    while ((await outbox.dispatch(fanOut, 100, unseenSince)) === 100 && !stopped) {}
    const hooks = new Map(serving.map((h) => [h.id, h]))
    const ids = [...hooks.keys()]
    const now = Date.now()
    // Once a minute is soon enough for what waited `retryForMs`, and spares a write per poll.
    if (now - swept >= 60_000) {
      swept = now
      await outbox.sweep({
        serving: ids,
        olderThan: now - timings.retryForMs,
        dueBefore: now - leaseMs - timings.pollIntervalMs,
        unseenSince,
        error: unservedError,
      })
    }
    if (ids.length === 0) return
    // The lease outlasts an attempt: a row is sent twice only when its sender died.
    for (;;) {
      const due = await outbox.claim(owner, leaseMs, batch, ids)
      await Promise.all(
        due.map(async (d) => {
          const hook = hooks.get(d.webhookId)
          // Removed since (its pending deliveries failed with it): nothing to send.
          if (hook) await send(d, hook).catch(input.onError)
        }),
      )
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
