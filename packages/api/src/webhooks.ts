// `402x-api/webhooks`: what a receiver of 402x's webhooks needs, nothing else (docs/webhooks.md).
export { generateWebhookSecret, signWebhook } from './webhooks/signWebhook.js'
export type { WebhookDeliveryOptions, WebhookEventType, WebhookOptions } from './webhooks/types.js'
export { webhookEventTypes } from './webhooks/types.js'
export type { RefusedWebhook, VerifiedWebhook, VerifyWebhookInput } from './webhooks/verifyWebhook.js'
export { verifyWebhook } from './webhooks/verifyWebhook.js'
