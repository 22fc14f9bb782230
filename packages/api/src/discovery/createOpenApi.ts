import { defaultApiTitle, type ResolvedPaywall, type ResolvedRoute } from '../paywall/resolvePaywall.js'
import { compileRoute, matchRoute } from '../paywall/routes.js'
import { describeRoute, type RouteShape } from './describeRoute.js'
import { paymentSecurity, ref, x402Components } from './openApiComponents.js'
import { paymentInfo } from './paymentInfo.js'
import { type SeenResource, seenResources } from './seenResources.js'
import { basePath, type Json, routeOf, sellerOperations } from './sellerDocument.js'

export type CreateOpenApiOptions = {
  /** The paywall to document: `x402Middleware(…).paywall`, or `createPaywall(…)`. */
  paywall: { config: ResolvedPaywall }
  /**
   * More paywalls of the same app (a middleware per route): their priced routes are added
   * after the first's, which gives the document its title and the seller's own document.
   * @default none
   */
  more?: readonly { config: ResolvedPaywall }[]
  /**
   * The API's base URL, for `servers`, e.g. `https://api.example.com`. A seller's document
   * that names its own `servers` keeps them.
   * @default none (`/openapi.json` as served fills in the request's origin)
   */
  serverUrl?: string
}

/** The methods a route for any method is documented under (HEAD and OPTIONS are never charged). */
const anyMethod = ['get', 'post', 'put', 'patch', 'delete']

/**
 * The OpenAPI document of a paywall's priced routes: one operation per route (and method),
 * each with `x-payment-info` (price, accepted payments), the 402 with its `PAYMENT-REQUIRED`
 * header, the `PAYMENT-SIGNATURE` security scheme, and `PAYMENT-RESPONSE` on success. With
 * `discovery.openapi`, the seller's own document is kept whole and the priced operations in
 * it are annotated; routes it does not describe are added. OpenAPI 3.1, or the seller's 3.0.
 * With `more`, the routes of every paywall given, the first that prices a path winning.
 *
 * @example
 * const paid = x402Middleware({ routes: { 'GET /api/market/:symbol': 0.001 } })
 * const document = createOpenApi({ paywall: paid.paywall, serverUrl: 'https://api.example.com' })
 */
export function createOpenApi(options: CreateOpenApiOptions): Json {
  const { config } = options.paywall
  const all = [config, ...(options.more ?? []).map((p) => p.config).filter((c) => c !== config)]
  const discovery = config.discovery || undefined
  const seller = discovery?.openapi
  const doc: Json = seller
    ? structuredClone(seller)
    : { openapi: '3.1.0', info: { title: discovery?.title ?? defaultApiTitle, version: discovery?.version ?? '1.0.0' } }
  const version = String(doc.openapi).startsWith('3.0') ? '3.0' : '3.1'
  if (!Array.isArray(doc.servers) && options.serverUrl) doc.servers = [{ url: options.serverUrl }]
  const paths = child(doc, 'paths')
  const base = basePath(doc)
  const ids = new Set(sellerOperations(doc).map((op) => op.operation.operationId))
  const operationId = (method: string, path: string) => {
    const words = `${method} ${path}`.split(/[^A-Za-z0-9]+/).filter(Boolean)
    const stem = words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]?.toUpperCase() + w.slice(1))).join('')
    let id = stem
    for (let n = 2; ids.has(id); n++) id = `${stem}${n}`
    ids.add(id)
    return id
  }

  // Which route of which paywall documents each of the seller's operations: `${paywall} ${route} ${method}`.
  const documented = new Set<string>()
  for (const op of sellerOperations(doc)) {
    for (const [p, paywall] of all.entries()) {
      const route = routeOf(paywall.routes, op, base)
      if (!route) continue
      markPaid(op.operation, paywall, route, doc.security)
      documented.add(`${p} ${paywall.routes.indexOf(route)} ${op.method}`)
      break
    }
  }

  const add = (paywall: ResolvedPaywall, route: ResolvedRoute, method: string, shape: RouteShape) => {
    const { key, names, outsideBase } = pathKey(paths, shape.openapiPath, base)
    const item = child(paths, key)
    // Never replace the seller's operation (one that an earlier route in the table prices).
    if (isObject(item[method])) return
    // A route outside the document's base path (`servers: [{ url: '/v1' }]`) names its own.
    if (outsideBase) item.servers = [{ url: '/' }]
    item[method] = paidOperation({
      config: paywall,
      route,
      method,
      shape,
      names,
      operationId: operationId(method, key),
    })
  }
  for (const [p, paywall] of all.entries()) {
    for (const [i, route] of paywall.routes.entries()) {
      if (!route.pattern) continue
      const shape = describeRoute(route.pattern)
      const methods = shape.method === '*' ? anyMethod : [shape.method.toLowerCase()]
      const anyDocumented = methods.some((m) => documented.has(`${p} ${i} ${m}`))
      if (shape.method === '*' && anyDocumented) continue
      for (const method of methods) if (!documented.has(`${p} ${i} ${method}`)) add(paywall, route, method, shape)
    }
  }
  // A route table charges a path before any paywall that guards all it is mounted on.
  const tablePrices = (method: string, path: string) =>
    all.some((paywall) => paywall.routes.some((r) => r.pattern && matchRoute(r.pattern, method.toUpperCase(), path)))
  const guards = all.filter((paywall) => paywall.guardsAll && paywall.routes[0])
  for (const paywall of guards) {
    const guarded = paywall.routes[0] as ResolvedRoute
    for (const seen of seenResources(paywall)) {
      const shape = seenShape(seen)
      const methods = seen.method ? [seen.method.toLowerCase()] : anyMethod
      for (const method of methods) {
        if (tablePrices(method, seen.path)) continue
        const theirs = sellerOperations(doc).find((op) => op.method === method && `${base}${op.path}` === seen.path)
        if (theirs) markPaid(theirs.operation, paywall, guarded, doc.security)
        else add(paywall, guarded, method, shape)
      }
    }
  }
  if (guards.length > 0) {
    doc['x-402x'] = {
      partial:
        'This paywall guards every path it is mounted on, so its paths are not in its configuration: a path is listed here once a request has reached it. Give x402Middleware a `routes` table to document every priced route up front.',
    }
  }

  const components = child(doc, 'components')
  for (const [section, entries] of Object.entries(x402Components(version))) {
    components[section] = { ...(isObject(components[section]) ? components[section] : {}), ...(entries as Json) }
  }
  return doc
}

/** How a resource a request reached is documented: by the framework's route when it names one. */
function seenShape(seen: SeenResource): RouteShape {
  if (seen.pattern) {
    try {
      return describeRoute(compileRoute(`${seen.method ?? '*'} ${seen.pattern}`))
    } catch {
      // A route in the framework's own syntax only (a RegExp, `{/:optional}`): by its path.
    }
  }
  return { method: seen.method ?? '*', path: seen.path, openapiPath: seen.path, routeTemplate: undefined, params: [] }
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** `parent[key]`, made an empty object first when it is not one. */
function child(parent: Json, key: string): Json {
  const value = parent[key]
  if (isObject(value)) return value
  const created: Json = {}
  parent[key] = created
  return created
}

/**
 * Where a route goes in `paths`: an existing path of the same shape (`/a/{id}` and
 * `/a/{symbol}` are the same path to OpenAPI) keeps its parameter names; else the route's
 * path, relative to the document's base path.
 */
function pathKey(
  paths: Json,
  openapiPath: string,
  base: string,
): { key: string; names: string[] | undefined; outsideBase: boolean } {
  if (base && !openapiPath.toLowerCase().startsWith(`${base.toLowerCase()}/`)) {
    return { key: openapiPath, names: undefined, outsideBase: true }
  }
  const relative = openapiPath.slice(base.length)
  const segments = relative.split('/')
  const isParam = (s: string) => /^\{[^}]+\}$/.test(s)
  for (const key of Object.keys(paths)) {
    const theirs = key.split('/')
    if (theirs.length !== segments.length) continue
    const same = theirs.every((s, i) => {
      const ours = segments[i] as string
      return isParam(s) ? isParam(ours) : !isParam(ours) && s.toLowerCase() === ours.toLowerCase()
    })
    if (same) return { key, names: theirs.filter(isParam).map((s) => s.slice(1, -1)), outsideBase: false }
  }
  return { key: relative, names: undefined, outsideBase: false }
}

/** Adds the payment to a seller's operation: x-payment-info, security, 402 and the receipt header. */
function markPaid(operation: Json, config: ResolvedPaywall, route: ResolvedRoute, docSecurity: unknown) {
  operation['x-payment-info'] = paymentInfo(config, route)
  // Each alternative the seller requires (an API key …) now also needs a payment.
  const existing = Array.isArray(operation.security)
    ? operation.security
    : Array.isArray(docSecurity)
      ? docSecurity
      : [{}]
  operation.security = (existing.length ? existing : [{}]).flatMap((requirement: unknown) =>
    paymentSecurity.map((payment) => ({ ...(isObject(requirement) ? requirement : {}), ...payment })),
  )
  const responses = child(operation, 'responses')
  responses['402'] ??= { $ref: ref.paymentRequiredResponse }
  responses['503'] ??= { $ref: ref.unavailableResponse }
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2(\d\d|XX)$/.test(status) || !isObject(response) || response.$ref) continue
    const headers = child(response, 'headers')
    headers['PAYMENT-RESPONSE'] ??= { $ref: ref.paymentResponseHeader }
  }
}

function paidOperation(options: {
  config: ResolvedPaywall
  route: ResolvedRoute
  method: string
  shape: RouteShape
  /** Parameter names of an existing path of the same shape, in order. */
  names: string[] | undefined
  operationId: string
}): Json {
  const { config, route, method, shape } = options
  const price = route.price === undefined ? 'a price computed per request' : `$${route.price}`
  const anyMethodNote = shape.method === '*' ? ' Any method is charged on this path.' : ''
  return {
    operationId: options.operationId,
    summary: route.description || `${shape.method === '*' ? method.toUpperCase() : shape.method} ${shape.path}`,
    description: `Costs ${price} in USDC per request, paid over x402: the first request is answered 402 with PAYMENT-REQUIRED; pay one of its \`accepts\` and retry with PAYMENT-SIGNATURE.${anyMethodNote}`,
    ...(shape.params.length
      ? {
          parameters: shape.params.map((param, i) => ({
            name: options.names?.[i] ?? param.name,
            in: 'path',
            required: true,
            schema: { type: 'string' },
            ...(param.wildcard
              ? {
                  description: `The rest of the path below ${shape.path.slice(0, shape.path.indexOf('*'))} (may contain "/")`,
                }
              : {}),
          })),
        }
      : {}),
    security: paymentSecurity,
    'x-payment-info': paymentInfo(config, route),
    responses: {
      '200': {
        description: 'Paid and served. PAYMENT-RESPONSE carries the settlement receipt.',
        headers: { 'PAYMENT-RESPONSE': { $ref: ref.paymentResponseHeader } },
        content: { [route.mimeType]: { schema: {} } },
      },
      '400': { $ref: ref.invalidPaymentResponse },
      '402': { $ref: ref.paymentRequiredResponse },
      '503': { $ref: ref.unavailableResponse },
    },
  }
}
