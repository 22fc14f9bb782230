import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { normalizePath } from '../paywall/routes.js'
import { describeRoute, paramValues } from './describeRoute.js'
import { rememberResource } from './seenResources.js'
import { findContract, type Json, type OperationContract } from './sellerDocument.js'

const queryMethods = ['GET', 'HEAD', 'DELETE']
const bodyMethods = ['POST', 'PUT', 'PATCH']

/**
 * A bazaar declaration larger than this (JSON characters) is sent without the seller's
 * schemas: clients echo extensions back in `PAYMENT-SIGNATURE`, and headers have limits.
 */
const maxBazaarChars = 4096

/** The response type as the bazaar names it: `json`, `text`, or `binary`. */
export const outputType = (mimeType: string) =>
  /[/+]json\b/i.test(mimeType) ? 'json' : /^text\//i.test(mimeType) ? 'text' : 'binary'

/**
 * The `bazaar` discovery extension of a 402 (x402 `specs/extensions/bazaar.md`), shaped as
 * the official `declareDiscoveryExtension` + `bazaarResourceServerExtension` produce it:
 * `info.input` (method, query or body, path parameters with `routeTemplate`) and
 * `info.output`, with the JSON Schema that validates `info`. Query and body schemas come from
 * the seller's OpenAPI document when it describes the operation.
 *
 * `undefined` when discovery is off or the method has no bazaar shape (OPTIONS, custom
 * methods, or a route for any method whose request method is not known).
 *
 * For a paywall that guards everything it is mounted on, the resource is also remembered,
 * so the discovery documents can list it (its path is not in the configuration).
 */
export function bazaarExtension(options: {
  paywall: ResolvedPaywall
  route: ResolvedRoute
  /** The resource URL of this 402. */
  url: string
  /** The request's method, when known. */
  method?: string | undefined
  /** The framework's route (frameworkRoute.ts) of a paywall without a route table, when known. */
  frameworkRoute?: string | undefined
}): { bazaar: Json } | undefined {
  const { paywall, route } = options
  if (!paywall.discovery) return undefined
  const shape = route.pattern ? describeRoute(route.pattern) : undefined
  // HEAD is never charged: whoever pays does so with GET.
  const requested = options.method?.toUpperCase().replace(/^HEAD$/, 'GET')
  const method = shape && shape.method !== '*' ? shape.method : requested
  const path = normalizePath(new URL(options.url).pathname) ?? '/'
  if (!route.pattern) rememberResource(paywall, { path, method, pattern: options.frameworkRoute })
  if (!method || ![...queryMethods, ...bodyMethods].includes(method)) return undefined
  const pathParams = route.pattern && shape?.routeTemplate ? paramValues(route.pattern, shape, path) : undefined
  const build = (contract: OperationContract | undefined) =>
    declaration({ method, route, contract, pathParams, routeTemplate: shape?.routeTemplate })
  const contract = contractOf(paywall, route, method)
  const full = build(contract)
  return { bazaar: contract && JSON.stringify(full).length > maxBazaarChars ? build(undefined) : full }
}

const contracts = new WeakMap<ResolvedRoute, Map<string, OperationContract | undefined>>()

/** The seller's contract for a route and method, read once from their document. */
function contractOf(paywall: ResolvedPaywall, route: ResolvedRoute, method: string) {
  let byMethod = contracts.get(route)
  if (!byMethod) {
    byMethod = new Map()
    contracts.set(route, byMethod)
  }
  if (!byMethod.has(method)) {
    const doc = paywall.discovery ? paywall.discovery.openapi : undefined
    byMethod.set(method, findContract(doc, paywall.routes, route, method))
  }
  return byMethod.get(method)
}

function declaration(options: {
  method: string
  route: ResolvedRoute
  contract: OperationContract | undefined
  pathParams: Record<string, string> | undefined
  routeTemplate: string | undefined
}): Json {
  const { method, route, contract, pathParams, routeTemplate } = options
  const isBody = bodyMethods.includes(method)
  const query = contract?.query
  // The example must satisfy the schema: a required parameter without an example is not required here.
  const querySchema = query ? withRequired(query.schema, Object.keys(query.example)) : { properties: {} }
  const body = contract?.body
  const bodySchema = body && (body.example !== undefined || isObjectSchema(body.schema)) ? body.schema : undefined
  const input: Json = {
    type: 'http',
    method,
    ...(isBody
      ? {
          bodyType: body?.bodyType ?? 'json',
          body: body?.example ?? {},
          ...(query ? { queryParams: query.example } : {}),
        }
      : { queryParams: query?.example ?? {} }),
    ...(pathParams ? { pathParams } : {}),
  }
  const inputSchema: Json = {
    type: { type: 'string', const: 'http' },
    method: { type: 'string', enum: [method] },
    ...(isBody
      ? {
          bodyType: { type: 'string', enum: ['json', 'form-data', 'text'] },
          body: bodySchema
            ? body?.example !== undefined
              ? bodySchema
              : withRequired(bodySchema, [])
            : { properties: {} },
          ...(query ? { queryParams: { type: 'object', ...querySchema } } : {}),
        }
      : { queryParams: { type: 'object', ...querySchema } }),
    ...(pathParams
      ? {
          pathParams: {
            type: 'object',
            properties: Object.fromEntries(Object.keys(pathParams).map((name) => [name, { type: 'string' }])),
          },
        }
      : {}),
  }
  const example = contract?.output?.example
  const output: Json = {
    type: outputType(route.mimeType),
    format: route.mimeType,
    ...(example !== undefined ? { example } : {}),
  }
  return {
    info: { input, output },
    schema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        input: {
          type: 'object',
          properties: inputSchema,
          required: isBody ? ['type', 'method', 'bodyType', 'body'] : ['type', 'method'],
          additionalProperties: false,
        },
        output: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            format: { type: 'string' },
            ...(example !== undefined ? { example: contract?.output?.schema ?? {} } : {}),
          },
          required: ['type'],
        },
      },
      required: ['input'],
    },
    ...(routeTemplate ? { routeTemplate } : {}),
  }
}

const isObjectSchema = (schema: Json) => schema.type === 'object' || (schema.type === undefined && !schema.items)

/** A schema whose `required` keeps only the names that are present. */
function withRequired(schema: Json, present: string[]): Json {
  const { required, ...rest } = schema
  const kept = Array.isArray(required) ? required.filter((name) => present.includes(name)) : []
  return kept.length > 0 ? { ...rest, required: kept } : rest
}
