import { X402Error } from '@402x/core'
import { z } from 'zod'
import type { WebhookInfo, WebhookService } from '../webhooks/createWebhooks.js'
import type { Delivery } from '../webhooks/types.js'
import type { AdminHandler, AdminRequest } from './adminContext.js'
import { AdminInputError, adminJson } from './adminHttp.js'

const AddSchema = z.strictObject({
  url: z.string().min(1).max(2000),
  events: z.array(z.string()).min(1),
  secret: z.string().optional(),
})

/** The paywall's webhooks, or 404 `webhooks_not_configured` (a ledger of the seller's own without an outbox). */
function service(request: AdminRequest): WebhookService {
  const webhooks = request.rt.webhooks
  if (webhooks) return webhooks
  throw new AdminInputError(
    'this paywall has no webhook outbox (its ledger is an object of your own): use the SQLite, PostgreSQL or memory ledger (docs/webhooks.md)',
    { status: 404, code: 'webhooks_not_configured' },
  )
}

const iso = (ms: number) => new Date(ms).toISOString()
const hookJson = (h: WebhookInfo) => ({
  id: h.id,
  url: h.url,
  events: h.events,
  createdAt: iso(h.createdAt),
  source: h.source,
  failing: h.failing,
  ...(h.lastError ? { lastError: h.lastError } : {}),
  pending: h.pending,
})
const deliveryJson = (d: Delivery) => ({
  id: d.id,
  eventId: d.eventId,
  webhookId: d.webhookId,
  type: d.type,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastError: d.lastError ?? null,
  createdAt: iso(d.createdAt),
})

/** A refusal of the webhook service (bad URL, events, secret) as a 400 with its reason. */
async function refused<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof X402Error && (error.code === 'invalid_request' || error.code === 'invalid_config')) {
      const reason = (error.details?.reason as string | undefined) ?? 'invalid_webhook'
      throw new AdminInputError(error.message, { status: 400, code: reason })
    }
    throw error
  }
}

/** `GET /webhooks`. */
export const listWebhooks: AdminHandler = async (request) =>
  adminJson(200, { webhooks: (await service(request).list()).map(hookJson) })

/** `POST /webhooks` `{ url, events, secret? }`: 201 with the secret (made when not given). */
export const addWebhook: AdminHandler = async (request) => {
  const parsed = AddSchema.safeParse(await request.body())
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.code === 'unrecognized_keys' ? String(issue.keys[0]) : issue?.path.join('.') || 'the body'
    throw new AdminInputError(
      `${field}: ${issue?.message ?? 'invalid'}; send e.g. { "url": "https://example.com/hooks", "events": ["payment.settled"] }`,
    )
  }
  const { url, events, secret } = parsed.data
  const added = await refused(() => service(request).add({ url, events, ...(secret !== undefined ? { secret } : {}) }))
  return adminJson(201, {
    webhook: hookJson(added.webhook),
    secret: added.secret,
    message: 'keep the secret: receivers check each POST with it (verifyWebhook, standardwebhooks, svix)',
  })
}

/** `DELETE /webhooks/:id`. */
export const removeWebhook: AdminHandler = async (request) => {
  const id = request.params[0] as string
  const removed = await refused(() => service(request).remove(id))
  if (!removed) {
    throw new AdminInputError(
      `there is no webhook ${id}: list them with GET /__402x/admin/webhooks (402x webhooks list)`,
      {
        status: 404,
        code: 'not_found',
      },
    )
  }
  return adminJson(200, { removed: true, id })
}

const statuses = new Set(['pending', 'delivered', 'failed'])

/** `GET /webhooks/deliveries?status=&webhook=&limit=&cursor=`, newest first. */
export const listDeliveries: AdminHandler = async (request) => {
  const q = request.url.searchParams
  const status = q.get('status') ?? undefined
  if (status !== undefined && !statuses.has(status))
    throw new AdminInputError(`status is "${status.slice(0, 50)}": give pending, delivered or failed`)
  const limitText = q.get('limit')
  const limit = limitText === null ? 50 : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new AdminInputError(`limit is "${limitText?.slice(0, 50)}": give a whole number from 1 to 500`)
  const cursor = q.get('cursor') ?? undefined
  if (cursor !== undefined && !/^\d{1,18}$/.test(cursor))
    throw new AdminInputError('cursor is not one this API gave: pass the `next` of the previous page')
  const webhook = q.get('webhook') ?? undefined
  const page = await service(request).deliveries({
    limit,
    ...(status ? { status: status as Delivery['status'] } : {}),
    ...(webhook ? { webhook } : {}),
    ...(cursor ? { cursor } : {}),
  })
  return adminJson(200, { deliveries: page.deliveries.map(deliveryJson), ...(page.next ? { next: page.next } : {}) })
}

/** `POST /webhooks/deliveries/:id/replay`: pending again, sent at the next round. */
export const replayDelivery: AdminHandler = async (request) => {
  const id = request.params[0] as string
  const webhooks = service(request)
  if (!(await webhooks.replay(id))) {
    throw new AdminInputError(
      `there is no delivery ${id}: list them with GET /__402x/admin/webhooks/deliveries (402x webhooks deliveries)`,
      { status: 404, code: 'not_found' },
    )
  }
  return adminJson(200, { replayed: true, id })
}
