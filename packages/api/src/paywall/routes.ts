/** A compiled route pattern such as `GET /api/market/:symbol` or `/api/*`. */
export type RoutePattern = {
  /** Upper-case method, or `*` for any. */
  method: string
  source: string
  regex: RegExp
  /** The names of the `:param` segments, in order. */
  params: string[]
  /** The literal segments before the first `:param` or `*`, lower-case (`/report` for `/report/:id`). */
  prefix: string
}

/**
 * Compiles `[METHOD ]/path` with `:param` segments and a trailing `*` wildcard. Matching is
 * case-insensitive, like Express and most routers, so `/API/x` cannot slip past a price.
 */
export function compileRoute(source: string): RoutePattern {
  const match = /^(?:([A-Za-z]+|\*)\s+)?(\/.*)$/.exec(source.trim())
  if (!match) throw new Error(`route "${source}" must look like "GET /path/:param" or "/path/*"`)
  const method = (match[1] ?? '*').toUpperCase()
  const path = normalizePath(match[2] as string) ?? '/'
  const params: string[] = []
  const body = path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*'
      if (segment.startsWith(':')) {
        params.push(segment.slice(1))
        return '([^/]+)'
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('/')
  const wildcard = body.endsWith('/.*') ? `${body.slice(0, -3)}(?:/.*)?` : body
  const dynamic = path.search(/\/(?::|\*)/)
  const prefix = (dynamic === -1 ? path : path.slice(0, dynamic)).toLowerCase()
  return { method, source, regex: new RegExp(`^${wildcard}$`, 'i'), params, prefix: prefix === '/' ? '' : prefix }
}

/**
 * Normalises a request path the way a router would see it: percent-decoded, `//` collapsed,
 * `.` and `..` resolved, no trailing slash. `undefined` for a path that cannot be decoded,
 * which the caller refuses rather than guesses.
 */
export function normalizePath(raw: string): string | undefined {
  // The path ends at the query or the fragment (`/paid#x` is routed as `/paid`).
  const end = raw.search(/[?#]/)
  const path = end === -1 ? raw : raw.slice(0, end)
  // Fast path: nothing to decode or resolve (the common case, and a free route's cost).
  if (path.charCodeAt(0) === 47 && !/%|\\|\/\/|\/\.|.\/$/.test(path)) {
    return path
  }
  // An absolute-form target (`GET http://host/paid HTTP/1.1`) is routed by its path, as
  // Express and Fastify do; anything else that does not start with "/" is refused.
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(path)
  const target = absolute ? path.slice(absolute[0].length) || '/' : path
  if (target.charCodeAt(0) !== 47) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(target)
  } catch {
    return undefined
  }
  const out: string[] = []
  for (const segment of decoded.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return `/${out.join('/')}`
}

/** The `:param` values of a normalised path that matches the pattern. */
export function paramsOf(route: RoutePattern, path: string): Record<string, string> {
  const match = route.regex.exec(path)
  const out: Record<string, string> = {}
  for (const [i, name] of route.params.entries()) {
    const value = match?.[i + 1]
    if (value !== undefined) out[name] = value
  }
  return out
}

/** Whether a path is the route's literal prefix or below it (`/report`, `/report/x` for `/report/:id`). */
export function underPrefix(route: RoutePattern, path: string): boolean {
  const { prefix } = route
  if (path.length < prefix.length) return false
  if (path.length > prefix.length && path.charCodeAt(prefix.length) !== 47) return false
  return path.slice(0, prefix.length).toLowerCase() === prefix
}

/** Whether a method and a normalised path match a compiled route. */
export function matchRoute(route: RoutePattern, method: string, path: string): boolean {
  return (
    // OPTIONS matches a priced path whatever its method: the core answers it, so that a
    // handler that serves every method (`app.all`, a plain Node handler) never runs for it.
    (route.method === '*' ||
      route.method === method ||
      (route.method === 'GET' && method === 'HEAD') ||
      method === 'OPTIONS') &&
    route.regex.test(path)
  )
}

/**
 * The request pricing code sees, with the price table's `:params` (`GET /quote/:symbol`)
 * over the framework's own (Express middleware mounted with `app.use` has none, a Fastify
 * catch-all has `*`). A prototype-linked view: the framework's request is not changed.
 */
export function withRouteParams<T extends object>(req: T, route: { pattern?: RoutePattern }, path: string): T {
  if (!route.pattern?.params.length) return req
  const normalised = normalizePath(path)
  if (!normalised) return req
  const own = (req as { params?: Record<string, string> }).params
  return Object.create(req, { params: { value: { ...own, ...paramsOf(route.pattern, normalised) } } })
}
