import { webhookEventTypes } from '../webhooks/types.js'
import { errors, json, object, ok, operation, ref, time } from './openApiParts.js'

// The webhook endpoints' part of the admin API's OpenAPI document (adminOpenApi.ts).

const op = operation('webhooks', '401', '403', '404')

const events = { type: 'array', items: { type: 'string', enum: [...webhookEventTypes, '*'] } }
const idParam = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description,
})

/** The schemas of the webhook endpoints. */
export const webhookSchemas = {
  Webhook: object(
    {
      id: { type: 'string' },
      url: { type: 'string', format: 'uri' },
      events,
      createdAt: time,
      source: { type: 'string', enum: ['code', 'config', 'admin'] },
      failing: { type: 'boolean', description: 'Whether its last attempt failed.' },
      lastError: { type: 'string' },
      pending: { type: 'integer', description: 'Deliveries waiting to be sent.' },
    },
    ['id', 'url', 'events', 'createdAt', 'source', 'failing', 'pending'],
  ),
  Delivery: object(
    {
      id: { type: 'string' },
      eventId: { type: 'string', description: 'The `webhook-id` sent, the same at every attempt.' },
      webhookId: { type: 'string' },
      type: { type: 'string', enum: [...webhookEventTypes] },
      status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
      attempts: { type: 'integer' },
      nextAttemptAt: time,
      lastError: { type: ['string', 'null'] },
      createdAt: time,
    },
    ['id', 'eventId', 'webhookId', 'type', 'status', 'attempts', 'nextAttemptAt', 'lastError', 'createdAt'],
  ),
}

/** The webhook endpoints' paths, under `adminPath`. */
export function webhookPaths(adminPath: string): Record<string, unknown> {
  return {
    [`${adminPath}/webhooks`]: {
      get: op('listWebhooks', 'The webhooks (code, config and admin)', {
        ...ok('The webhooks', object({ webhooks: { type: 'array', items: ref('Webhook') } }, ['webhooks'])),
      }),
      post: op(
        'addWebhook',
        'Register a webhook (its URL checked against SSRF after DNS)',
        {
          ...ok(
            'The webhook and its secret',
            object({ webhook: ref('Webhook'), secret: { type: 'string', pattern: '^whsec_' } }, ['webhook', 'secret']),
            '201',
          ),
          ...errors('400'),
        },
        {
          requestBody: {
            required: true,
            content: json(
              object({ url: { type: 'string', format: 'uri' }, events, secret: { type: 'string' } }, ['url', 'events']),
            ),
          },
        },
      ),
    },
    [`${adminPath}/webhooks/{id}`]: {
      parameters: [idParam('The webhook id (`wh_…`).')],
      delete: op('removeWebhook', 'Remove a webhook registered with the admin API', {
        ...ok('Removed', object({ removed: { type: 'boolean' }, id: { type: 'string' } })),
        ...errors('400'),
      }),
    },
    [`${adminPath}/webhooks/deliveries`]: {
      get: op(
        'listDeliveries',
        'Deliveries, newest first',
        {
          ...ok(
            'A page of deliveries',
            object({ deliveries: { type: 'array', items: ref('Delivery') }, next: { type: 'string' } }, ['deliveries']),
          ),
          ...errors('400'),
        },
        {
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string', enum: ['pending', 'delivered', 'failed'] } },
            { name: 'webhook', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
        },
      ),
    },
    [`${adminPath}/webhooks/deliveries/{id}/replay`]: {
      parameters: [idParam('The delivery id (`dlv_…`).')],
      post: op('replayDelivery', 'Send a delivery again (same webhook-id)', {
        ...ok('Pending again', object({ replayed: { type: 'boolean' }, id: { type: 'string' } })),
      }),
    },
  }
}
