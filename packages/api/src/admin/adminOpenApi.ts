import { adminPath } from './adminRoute.js'
import { observePaths, observeSchemas } from './observeOpenApi.js'
import { errors, json, object, ok, operation, ref, type Schema } from './openApiParts.js'
import { statsOpenApiPaths } from './statsOpenApi.js'
import { webhookPaths, webhookSchemas } from './webhookOpenApi.js'

const op = operation('admin', '401', '403')

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'The key id (`key_…`).',
}
const money = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$', description: 'Dollars, as a decimal string.' }
const ms = { type: 'integer', description: 'Milliseconds since 1970.' }

const schemas = {
  Error: object({ error: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' } }, [
    'error',
    'reason',
    'message',
  ]),
  KeyInfo: object(
    {
      id: { type: 'string' },
      name: { type: 'string' },
      owner: { type: 'string' },
      plan: { type: 'string' },
      metadata: { type: 'object', additionalProperties: { type: 'string' } },
      start: { type: 'string', description: 'The key’s first characters, to recognise it.' },
      account: { type: 'string' },
      createdAt: ms,
      expiresAt: ms,
      revokedAt: ms,
      state: { type: 'string', enum: ['active', 'revoked', 'expired'] },
    },
    ['id', 'name', 'plan', 'start', 'createdAt', 'state'],
  ),
  Plan: object(
    {
      name: { type: 'string' },
      routes: { oneOf: [{ const: 'all' }, { type: 'array', items: { type: 'string' } }] },
      rateLimits: { type: 'array', items: { type: 'object' } },
      quota: object({ day: { type: 'integer' }, month: { type: 'integer' } }),
      overage: { oneOf: [{ const: 'block' }, object({ price: money }, ['price'])] },
      billing: { type: 'string', enum: ['included', 'credits'] },
    },
    ['name', 'routes', 'rateLimits', 'quota', 'overage', 'billing'],
  ),
  Usage: object({ calls: { type: 'integer' }, units: { type: 'number' }, amount: money }, ['calls', 'units', 'amount']),
  Balance: object({ available: money, reserved: money }, ['available']),
  ...observeSchemas,
}

/**
 * The admin API as an OpenAPI 3.1 document (served at `/__402x/admin/openapi.json`).
 *
 * @example
 * const doc = adminOpenApi('http://127.0.0.1:4021')
 */
export function adminOpenApi(origin: string): Record<string, unknown> {
  const keyInfo = object({ info: ref('KeyInfo') }, ['info'])
  const revoked = object(
    {
      revoked: { const: true },
      info: ref('KeyInfo'),
      minted: {
        type: 'array',
        items: { type: 'string' },
        description: 'the keys minted from it (portal sessions signed in with it), revoked with it',
      },
      creditTokens: { type: 'integer', description: 'the credit tokens of their accounts revoked with it' },
    },
    ['revoked', 'info', 'minted', 'creditTokens'],
  )
  const balance = object({ keyId: { type: 'string' }, balance: ref('Balance') }, ['keyId', 'balance'])
  const body = (schema: Schema) => ({ requestBody: { required: true, content: json(schema) } })
  return {
    openapi: '3.1.0',
    info: {
      title: '402x admin API',
      version: '1.0.0',
      description: 'API keys, plans and usage. Send Authorization: Bearer <X402_ADMIN_TOKEN>.',
    },
    servers: [{ url: origin }],
    security: [{ adminToken: [] }],
    paths: {
      [`${adminPath}/keys`]: {
        get: op('listKeys', 'List keys', ok('The keys', object({ keys: { type: 'array', items: ref('KeyInfo') } })), {
          parameters: [
            { name: 'plan', in: 'query', schema: { type: 'string' } },
            { name: 'includeRevoked', in: 'query', schema: { type: 'string', enum: ['1', 'true'] } },
          ],
        }),
        post: op(
          'createKey',
          'Create a key (shown once)',
          {
            ...ok('The key, once', object({ key: { type: 'string' }, info: ref('KeyInfo') }, ['key', 'info']), '201'),
            ...errors('400'),
          },
          body(
            object(
              {
                name: { type: 'string' },
                plan: { type: 'string' },
                owner: { type: 'string' },
                metadata: { type: 'object', additionalProperties: { type: 'string' } },
                expiresIn: { oneOf: [{ type: 'string', examples: ['30d', '12h'] }, { type: 'integer' }] },
                expiresAt: { oneOf: [{ type: 'string', format: 'date-time' }, { type: 'integer' }] },
              },
              ['name', 'plan'],
            ),
          ),
        ),
      },
      [`${adminPath}/keys/{id}`]: {
        parameters: [idParam],
        get: op('getKey', 'A key', { ...ok('The key', keyInfo), ...errors('404') }),
        delete: op('deleteKey', 'Revoke a key and what it minted', {
          ...ok('Revoked', revoked),
          ...errors('404', '409'),
        }),
      },
      [`${adminPath}/keys/{id}/revoke`]: {
        parameters: [idParam],
        post: op('revokeKey', 'Revoke a key and what it minted', {
          ...ok('Revoked', revoked),
          ...errors('404', '409'),
        }),
      },
      [`${adminPath}/keys/{id}/usage`]: {
        parameters: [idParam],
        get: op(
          'keyUsage',
          'A key’s usage per route (default: this UTC month)',
          {
            ...ok(
              'The statement',
              object({
                keyId: { type: 'string' },
                from: { type: 'string', format: 'date-time' },
                to: { type: 'string', format: 'date-time' },
                lines: { type: 'array', items: { allOf: [ref('Usage'), object({ route: { type: 'string' } })] } },
                total: ref('Usage'),
              }),
            ),
            ...errors('400', '404'),
          },
          {
            parameters: [
              { name: 'from', in: 'query', schema: { type: 'string' }, description: 'ISO date or ms' },
              { name: 'to', in: 'query', schema: { type: 'string' }, description: 'ISO date or ms' },
            ],
          },
        ),
      },
      [`${adminPath}/keys/{id}/credit`]: {
        parameters: [idParam],
        get: op('keyBalance', 'A key’s credit', { ...ok('The balance', balance), ...errors('404') }),
        post: op(
          'grantKey',
          'Grant credit to a key (idempotent by ref)',
          { ...ok('The balance after', balance), ...errors('400', '404') },
          body(object({ amount: { oneOf: [money, { type: 'number' }] }, ref: { type: 'string' } }, ['amount'])),
        ),
      },
      [`${adminPath}/plans`]: {
        get: op('listPlans', 'The plans', ok('The plans', object({ plans: { type: 'array', items: ref('Plan') } }))),
      },
      [`${adminPath}/plans/{name}`]: {
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        put: op(
          'putPlan',
          'Put a plan (checked)',
          { ...ok('The plan', object({ plan: ref('Plan') })), ...errors('400') },
          body(ref('Plan')),
        ),
      },
      ...observePaths(adminPath),
      ...webhookPaths(adminPath),
      [`${adminPath}/openapi.json`]: {
        get: op('adminOpenApi', 'This document', ok('OpenAPI 3.1', { type: 'object' })),
      },
      ...statsOpenApiPaths,
    },
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'X402_ADMIN_TOKEN' } },
      schemas: { ...schemas, ...webhookSchemas },
      responses: Object.fromEntries(
        ['400', '401', '403', '404', '409'].map((s) => [
          `Error${s}`,
          { description: `Refused (${s})`, content: json(ref('Error')) },
        ]),
      ),
    },
  }
}
