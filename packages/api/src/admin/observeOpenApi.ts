// The payments, credit and export endpoints of the admin API in its OpenAPI document
// (adminOpenApi.ts merges them): docs/admin-api.md is their page.

import { errors, json, object, ok, operation, ref, type Schema, time } from './openApiParts.js'

const op = operation('admin', '401', '403')

const money = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$', description: 'Dollars, as a decimal string.' }
const query = (name: string, description: string, schema: Schema = { type: 'string' }) => ({
  name,
  in: 'query',
  schema,
  description,
})
const filters = [
  query('payer', 'The payer’s 0x address'),
  query('state', 'States, comma-separated (settled,pending,…)'),
  query('resource', 'Text the resource URL contains, e.g. /api/weather'),
  query('from', 'Recorded at or after: ISO date or ms'),
  query('to', 'Recorded before: ISO date or ms'),
]
const page = [
  query('limit', '1 to 1000 (default 100)', { type: 'integer' }),
  query('cursor', 'The `next` of the page before'),
]
const accountParam = { name: 'account', in: 'path', required: true, schema: { type: 'string' } }
const body = (schema: Schema) => ({ requestBody: { required: true, content: json(schema) } })
const movement = (signed: boolean) =>
  body(
    object(
      {
        amount: {
          oneOf: [money, { type: 'number' }],
          description: signed ? 'Signed dollars: "-2.50" takes back' : 'Dollars',
        },
        reason: { type: 'string', description: 'Recorded in the ledger, shown in the statement' },
        ref: { type: 'string', description: 'Idempotency key' },
      },
      ['amount', 'reason'],
    ),
  )
const moved = object({
  account: { type: 'string' },
  ref: { type: 'string' },
  amount: money,
  balance: money,
  replayed: { type: 'boolean' },
})

/** The component schemas these endpoints use. */
export const observeSchemas = {
  Payment: object(
    {
      id: { type: 'string' },
      payer: { type: 'string' },
      amount: money,
      amountAtomic: { type: 'string', description: 'Atomic units, as the ledger holds them' },
      asset: { type: 'string' },
      network: { type: 'string' },
      resource: { type: 'string' },
      method: { type: 'string' },
      state: {
        type: 'string',
        enum: ['rejected', 'verified', 'released', 'settling', 'settled', 'failed', 'pending', 'reconciled'],
      },
      transaction: { type: ['string', 'null'] },
      createdAt: time,
      settledAt: time,
      reason: { type: 'string' },
    },
    ['id', 'payer', 'amount', 'amountAtomic', 'asset', 'network', 'resource', 'method', 'state', 'createdAt'],
  ),
  CreditAccount: object({ account: { type: 'string' }, balance: money, reserved: money, updatedAt: time }, [
    'account',
    'balance',
    'reserved',
    'updatedAt',
  ]),
}

/** The paths of the payments, credit and export endpoints under `base` (`/__402x/admin`). */
export function observePaths(base: string): Record<string, unknown> {
  return {
    [`${base}/payments`]: {
      get: op(
        'listPayments',
        'Payments, newest first, filtered and paged',
        {
          ...ok('A page', object({ payments: { type: 'array', items: ref('Payment') }, next: { type: 'string' } })),
          ...errors('400'),
        },
        { parameters: [...filters, ...page] },
      ),
    },
    [`${base}/payments/{id}`]: {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: op('getPayment', 'A payment', {
        ...ok('The payment', object({ payment: ref('Payment') })),
        ...errors('404'),
      }),
    },
    [`${base}/credits`]: {
      get: op(
        'listCredits',
        'Credit accounts, in account order',
        {
          ...ok(
            'A page',
            object({ accounts: { type: 'array', items: ref('CreditAccount') }, next: { type: 'string' } }),
          ),
          ...errors('400', '404'),
        },
        { parameters: page },
      ),
    },
    [`${base}/credits/{account}`]: {
      parameters: [accountParam],
      get: op('getCredit', 'A credit account: balance and statement', {
        ...ok(
          'The account',
          object({
            account: { type: 'string' },
            balance: money,
            reserved: money,
            statement: { type: 'array', items: { type: 'object' } },
          }),
        ),
        ...errors('404'),
      }),
    },
    [`${base}/credits/{account}/grant`]: {
      parameters: [accountParam],
      post: op(
        'grantCredit',
        'Grant credit, with a reason (idempotent by ref)',
        { ...ok('Granted', moved), ...errors('400', '404') },
        movement(false),
      ),
    },
    [`${base}/credits/{account}/adjust`]: {
      parameters: [accountParam],
      post: op(
        'adjustCredit',
        'Adjust credit up or down, with a reason; never below zero (idempotent by ref)',
        { ...ok('Adjusted', moved), ...errors('400', '404') },
        movement(true),
      ),
    },
    [`${base}/export`]: {
      get: op(
        'exportPayments',
        'The payments of a period as CSV or CloudEvents JSON lines, streamed',
        {
          '200': {
            description: 'CSV with a header row, or one CloudEvents 1.0 event per line',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          ...errors('400'),
        },
        {
          parameters: [
            query('format', 'csv (default) or cloudevents', { type: 'string', enum: ['csv', 'cloudevents'] }),
            ...filters,
          ],
        },
      ),
    },
  }
}
