import { X402Error } from '@402x/core'
import type { ConfigFile } from '../config/resolveConfig.js'
import type { DeliveryTimings } from './backoff.js'
import { deliveryTimings, resolveWebhooks } from './resolveWebhooks.js'
import type { Webhook, WebhookDeliveryOptions, WebhookOptions } from './types.js'

/** The local chain (`402x dev`): the only one whose webhooks may go to local addresses. */
export const localChainId = 'eip155:31337'

/**
 * The webhooks of one paywall from code (`webhooks`) and `402x.config.json` (`"webhooks"`,
 * each secret read from the environment variable its `secretEnv` names), checked at start-up.
 *
 * @example
 * const { fixed, timings } = paywallWebhooks({ webhooks, webhookDelivery }, file, process.env, 'eip155:8453')
 */
export function paywallWebhooks(
  options: { webhooks?: readonly WebhookOptions[]; webhookDelivery?: WebhookDeliveryOptions },
  file: ConfigFile | undefined,
  env: Record<string, string | undefined>,
  network: string,
): { fixed: Webhook[]; timings: DeliveryTimings; localChain: boolean } {
  const localChain = network === localChainId
  const fromFile = (file?.webhooks ?? []).map((hook, i) => {
    const secret = env[hook.secretEnv]
    if (!secret) {
      throw new X402Error('invalid_config', {
        message: `402x.config.json "webhooks"[${i}]: ${hook.secretEnv} is not set: set it to the endpoint's whsec_… secret (402x webhooks add makes one)`,
        details: { option: 'webhooks', setting: hook.secretEnv },
      })
    }
    return { url: hook.url, events: hook.events, secret }
  })
  return {
    fixed: [
      ...resolveWebhooks(options.webhooks ?? [], 'code', localChain),
      ...resolveWebhooks(fromFile, 'config', localChain),
    ],
    timings: deliveryTimings(options.webhookDelivery),
    localChain,
  }
}
