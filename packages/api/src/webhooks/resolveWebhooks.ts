import { X402Error } from '@402x/core'
import { z } from 'zod'
import type { DeliveryTimings } from './backoff.js'
import { urlProblem } from './checkWebhookUrl.js'
import { stableId } from './eventIds.js'
import { checkedKey } from './signWebhook.js'
import { type Webhook, type WebhookDeliveryOptions, type WebhookSource, webhookEventTypes } from './types.js'

const eventsSchema = z.array(z.enum([...webhookEventTypes, '*'])).min(1)

/** The events of a webhook, checked: known types (or `*`), at least one. */
export function checkEvents(events: unknown, where: string): string[] {
  const parsed = eventsSchema.safeParse(events)
  if (!parsed.success) {
    throw new X402Error('invalid_config', {
      message: `${where}: events must be a non-empty array of ${webhookEventTypes.join(', ')} or "*": got ${JSON.stringify(events)?.slice(0, 200)}`,
      details: { option: 'events' },
    })
  }
  return [...new Set(parsed.data)]
}

/** The stable id of a webhook from code or the config file: the same at every start and instance. */
export const webhookId = (source: WebhookSource, url: string, events: readonly string[]) =>
  stableId('wh', source, url, [...events].sort().join(','))

/**
 * Checks the webhooks given in code or in `402x.config.json` at start-up, each with a clear
 * error: a URL of the wrong form or a private host (outside the local chain), unknown event
 * types, a secret that is not `whsec_…`, the same endpoint twice. The DNS check is made at
 * each delivery.
 *
 * @example
 * const hooks = resolveWebhooks([{ url: 'https://example.com/hooks', events: ['*'], secret }], 'code', false)
 */
export function resolveWebhooks(
  given: readonly { url: string; events: readonly string[]; secret: string }[],
  source: 'code' | 'config',
  localChain: boolean,
): Webhook[] {
  const seen = new Set<string>()
  return given.map((hook, i) => {
    const where = source === 'code' ? `x402Middleware() webhooks[${i}]` : `402x.config.json "webhooks"[${i}]`
    const problem = urlProblem(hook.url, localChain)
    if (problem)
      throw new X402Error('invalid_config', { message: `${where}: ${problem}`, details: { option: 'webhooks' } })
    const events = checkEvents(hook.events, where)
    checkedKey(hook.secret, where)
    const id = webhookId(source, hook.url, events)
    if (seen.has(id))
      throw new X402Error('invalid_config', {
        message: `${where}: ${hook.url} is registered twice with the same events: give it once`,
        details: { option: 'webhooks' },
      })
    seen.add(id)
    return { id, url: hook.url, events, secret: hook.secret, createdAt: 0, source }
  })
}

/** The worker's timings: the options given, each checked, else the defaults. */
export function deliveryTimings(options: WebhookDeliveryOptions | undefined): DeliveryTimings {
  const t: DeliveryTimings = {
    pollIntervalMs: options?.pollIntervalMs ?? 1_000,
    timeoutMs: options?.timeoutMs ?? 10_000,
    initialBackoffMs: options?.initialBackoffMs ?? 5_000,
    maxBackoffMs: options?.maxBackoffMs ?? 3_600_000,
    retryForMs: options?.retryForMs ?? 86_400_000,
  }
  if (t.maxBackoffMs < t.initialBackoffMs)
    throw new X402Error('invalid_config', {
      message: `webhookDelivery: maxBackoffMs (${t.maxBackoffMs}) is below initialBackoffMs (${t.initialBackoffMs}): raise it`,
      details: { option: 'webhookDelivery.maxBackoffMs' },
    })
  return t
}
