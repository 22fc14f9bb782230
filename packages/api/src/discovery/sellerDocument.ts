/**
 * Reading the seller's own OpenAPI document: which of its operations a route prices, and
 * what it says about their input and output (for the bazaar extension and the manifest).
 */
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { matchRoute } from '../paywall/routes.js'

export type Json = Record<string, unknown>

export const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

export type SellerOperation = { path: string; method: string; operation: Json; pathItem: Json }

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The path every operation sits under: the path of the first `servers` URL ('' for none). */
export function basePath(doc: Json | undefined): string {
  const first = Array.isArray(doc?.servers) ? doc.servers[0] : undefined
  if (!isObject(first) || typeof first.url !== 'string') return ''
  try {
    return new URL(first.url.replace(/\{[^}]*\}/g, 'x'), 'http://base.invalid').pathname.replace(/\/$/, '')
  } catch {
    return ''
  }
}

/** Every operation of a document, in document order. */
export function sellerOperations(doc: Json | undefined): SellerOperation[] {
  const out: SellerOperation[] = []
  if (!isObject(doc?.paths)) return out
  for (const [path, pathItem] of Object.entries(doc.paths)) {
    if (!isObject(pathItem)) continue
    for (const method of httpMethods) {
      const operation = pathItem[method]
      if (isObject(operation)) out.push({ path, method, operation, pathItem })
    }
  }
  return out
}

/**
 * The route that charges for a seller's operation, the way the paywall would pick it for a
 * request to that path (its `{param}` segments filled with any value): the first that matches.
 */
export function routeOf(
  routes: readonly ResolvedRoute[],
  operation: SellerOperation,
  base: string,
): ResolvedRoute | undefined {
  const path = `${base}${operation.path.replace(/\{[^}/]+\}/g, 'x')}`
  return routes.find((r) => r.pattern && matchRoute(r.pattern, operation.method.toUpperCase(), path))
}

/**
 * A copy of a schema with its same-document `$ref`s replaced by what they point to, so it
 * stands alone outside the document (the bazaar forbids references to other documents).
 * A cycle, or a reference that cannot be resolved, becomes `{}` (any value).
 */
export function inlineRefs(node: unknown, doc: Json, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => inlineRefs(item, doc, seen))
  if (!isObject(node)) return node
  if (typeof node.$ref === 'string') {
    const ref = node.$ref
    if (!ref.startsWith('#/') || seen.includes(ref) || seen.length > 32) return {}
    const target = ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), doc)
    return target === undefined ? {} : inlineRefs(target, doc, [...seen, ref])
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inlineRefs(value, doc, seen)]))
}

/** What a seller's operation declares about how to call it and what it answers. */
export type OperationContract = {
  /** Query parameters as a JSON Schema object (`properties`, `required`), and example values. */
  query?: { schema: Json; example: Record<string, unknown> }
  /** The request body's JSON Schema, its encoding and an example. */
  body?: { schema: Json; bodyType: 'json' | 'form-data' | 'text'; example?: unknown }
  /** The success response's JSON Schema and an example. */
  output?: { schema?: Json; example?: unknown }
}

/** Reads the query parameters, request body and 2xx response a seller's operation declares. */
export function operationContract(doc: Json, found: SellerOperation): OperationContract {
  const contract: OperationContract = {}
  const params = [
    ...(Array.isArray(found.pathItem.parameters) ? found.pathItem.parameters : []),
    ...(Array.isArray(found.operation.parameters) ? found.operation.parameters : []),
  ].map((p) => inlineRefs(p, doc))
  const properties: Json = {}
  const required: string[] = []
  const example: Record<string, unknown> = {}
  for (const param of params) {
    if (!isObject(param) || param.in !== 'query' || typeof param.name !== 'string') continue
    properties[param.name] = {
      ...(isObject(param.schema) ? param.schema : { type: 'string' }),
      ...(typeof param.description === 'string' ? { description: param.description } : {}),
    }
    const value = param.example ?? (isObject(param.schema) ? param.schema.example : undefined)
    if (value !== undefined) example[param.name] = value
    if (param.required === true) required.push(param.name)
  }
  if (Object.keys(properties).length > 0) {
    contract.query = { schema: { properties, ...(required.length ? { required } : {}) }, example }
  }
  const body = inlineRefs(found.operation.requestBody, doc)
  if (isObject(body) && isObject(body.content)) {
    const [type, media] = Object.entries(body.content)[0] ?? []
    if (type && isObject(media)) {
      const schema = isObject(media.schema) ? media.schema : {}
      const bodyExample = media.example ?? schema.example
      contract.body = {
        schema,
        bodyType: /json/i.test(type) ? 'json' : /form/i.test(type) ? 'form-data' : 'text',
        ...(bodyExample !== undefined ? { example: bodyExample } : {}),
      }
    }
  }
  const responses = isObject(found.operation.responses) ? found.operation.responses : {}
  const success = Object.entries(responses).find(([status]) => /^2(\d\d|XX)$/.test(status))?.[1]
  const response = inlineRefs(success, doc)
  if (isObject(response) && isObject(response.content)) {
    const media = Object.values(response.content)[0]
    if (isObject(media)) {
      const schema = isObject(media.schema) ? media.schema : undefined
      const outputExample = media.example ?? schema?.example
      contract.output = {
        ...(schema ? { schema } : {}),
        ...(outputExample !== undefined ? { example: outputExample } : {}),
      }
    }
  }
  return contract
}

/** The seller's operation documenting a route for one method, if their document has one. */
export function findContract(
  doc: Json | undefined,
  routes: readonly ResolvedRoute[],
  route: ResolvedRoute,
  method: string,
): OperationContract | undefined {
  if (!doc || !route.pattern) return undefined
  const base = basePath(doc)
  const found = sellerOperations(doc).find(
    (op) => op.method === method.toLowerCase() && routeOf(routes, op, base) === route,
  )
  return found ? operationContract(doc, found) : undefined
}
