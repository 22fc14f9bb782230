import { adminPath } from './adminRoute.js'

// The OpenAPI entries of the dashboard's endpoints (stats, live), spread into adminOpenApi.

const money = { type: 'string', description: 'Dollars, as a decimal string.' }
const count = { type: 'integer' }
const time = { type: 'string', format: 'date-time' }
const object = (properties: Record<string, unknown>) => ({ type: 'object', properties })
const list = (items: Record<string, unknown>) => ({ type: 'array', items })
const refused = Object.fromEntries(['400', '401', '403'].map((s) => [s, { $ref: `#/components/responses/Error${s}` }]))

const outcomes = object(
  Object.fromEntries(['paid', 'credit', 'key', 'free', '402', '429', '4xx', '5xx'].map((o) => [o, count])),
)

const stats = object({
  range: { type: 'string', enum: ['hour', 'day', '30d'] },
  from: time,
  to: time,
  stepSeconds: count,
  totals: object({
    requests: count,
    paid: count,
    credit: count,
    key: count,
    free: count,
    refused: count,
    revenue: {
      ...money,
      description: 'Money received in x402 payments (settled, pending, reconciled): the ledger’s sum.',
    },
    payments: count,
    charged: { ...money, description: 'Charged for requests: paid, credit and key.' },
    creditCharged: { ...money, description: 'Charged to credit accounts and keys.' },
  }),
  byOutcome: outcomes,
  byRoute: list(
    object({
      route: { type: 'string' },
      requests: count,
      revenue: money,
      credit: money,
      p50: { type: ['number', 'null'], description: 'ms' },
      p95: { type: ['number', 'null'] },
      p99: { type: ['number', 'null'] },
      errors: count,
      byOutcome: outcomes,
    }),
  ),
  series: list(
    object({
      t: time,
      requests: count,
      paid: count,
      credit: count,
      key: count,
      free: count,
      refused: count,
      revenue: money,
    }),
  ),
  topUsers: list(
    object({ user: { type: 'string' }, kind: { enum: ['payer', 'key', 'account'] }, requests: count, revenue: money }),
  ),
  countries: list(
    object({
      country: { type: 'string', description: 'ISO code, `local` or `unknown`' },
      requests: count,
      revenue: money,
    }),
  ),
  settlements: object({
    settled: count,
    pending: count,
    failed: count,
    recent: list(
      object({
        id: { type: 'string' },
        state: { type: 'string' },
        amount: money,
        payer: { type: 'string' },
        network: { type: 'string' },
        resource: { type: 'string' },
        transaction: { type: ['string', 'null'] },
        explorerUrl: { type: ['string', 'null'] },
        createdAt: time,
      }),
    ),
  }),
})

/** `GET /stats` and `GET /live`, for the admin API's OpenAPI document. */
export const statsOpenApiPaths = {
  [`${adminPath}/stats`]: {
    get: {
      operationId: 'getStats',
      summary: 'Requests, outcomes, revenue, latency, users, countries and settlements of a range',
      tags: ['admin'],
      parameters: [
        { name: 'range', in: 'query', schema: { type: 'string', enum: ['hour', 'day', '30d'], default: 'hour' } },
      ],
      responses: {
        '200': { description: 'The stats', content: { 'application/json': { schema: stats } } },
        ...refused,
      },
    },
  },
  [`${adminPath}/live`]: {
    get: {
      operationId: 'getLive',
      summary: 'Server-sent events: `request` per request, `payment` per settlement, `: ping` every 15 s',
      tags: ['admin'],
      responses: {
        '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...refused,
      },
    },
  },
}
