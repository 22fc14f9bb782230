import { normalizePath, paramsOf, type RoutePattern } from '../paywall/routes.js'

/** One `:param` or `*` segment of a route, as the documents name it. */
export type RouteParam = {
  name: string
  /** A `*` segment: matches the rest of the path, `/` included. */
  wildcard: boolean
}

/** A route pattern as the discovery documents show it. */
export type RouteShape = {
  /** Upper-case method, or `*` for any. */
  method: string
  /** The path as written in the route table, e.g. `/api/market/:symbol` or `/api/premium/*`. */
  path: string
  /** OpenAPI form: `/api/market/{symbol}`; a `*` becomes `{var1}`, `{var2}` … */
  openapiPath: string
  /**
   * The bazaar's `routeTemplate`: `/api/market/:symbol`, a `*` as `:var1` (as the official
   * server extension names them). `undefined` for a path without parameters.
   */
  routeTemplate: string | undefined
  params: RouteParam[]
}

/** What a facilitator accepts as a `routeTemplate` (bazaar spec): URL path characters only. */
const templateChars = /^\/[A-Za-z0-9_/:.\-~%]+$/

/** The shape of a compiled route, for the discovery documents. */
export function describeRoute(pattern: RoutePattern): RouteShape {
  const written = pattern.source.trim().replace(/^(?:[A-Za-z]+|\*)\s+/, '')
  const path = normalizePath(written) ?? written
  const params: RouteParam[] = []
  let wildcards = 0
  const segments = path.split('/').map((segment) => {
    if (segment === '*') {
      const name = `var${++wildcards}`
      params.push({ name, wildcard: true })
      return { openapi: `{${name}}`, template: `:${name}` }
    }
    if (segment.startsWith(':')) {
      params.push({ name: segment.slice(1), wildcard: false })
      return { openapi: `{${segment.slice(1)}}`, template: segment }
    }
    return { openapi: segment, template: segment }
  })
  const template = segments.map((s) => s.template).join('/')
  return {
    method: pattern.method,
    path,
    openapiPath: segments.map((s) => s.openapi).join('/') || '/',
    routeTemplate: params.length > 0 && templateChars.test(template) ? template : undefined,
    params,
  }
}

/** The `:param` values of a concrete path; a `*` takes the rest of the path. */
export function paramValues(pattern: RoutePattern, shape: RouteShape, path: string): Record<string, string> {
  if (!pattern.regex.test(path)) return {}
  const out = paramsOf(pattern, path)
  // The pattern's regex does not capture `*`: it is what follows the literal prefix.
  const wildcard = shape.params.find((p) => p.wildcard)
  if (wildcard) {
    const prefix = shape.path.slice(0, shape.path.indexOf('*')).replace(/\/$/, '')
    const depth = prefix.split('/').length
    out[wildcard.name] = path.split('/').slice(depth).join('/')
  }
  return out
}
