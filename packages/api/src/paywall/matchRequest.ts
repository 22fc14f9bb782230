import { ambiguous, pathOf, readPath, someReading } from './requestPath.js'
import type { ResolvedPaywall, ResolvedRoute } from './resolvePaywall.js'
import { matchRoute, underPrefix } from './routes.js'

/** A path refused before anything else: 400 with this reason; never priced, never served. */
const refusal = (reason: 'invalid_request' | 'ambiguous_path', message: string): ResolvedRoute =>
  Object.freeze({
    usesPayer: false,
    needsRequest: false,
    description: 'refused path',
    mimeType: 'application/json',
    maxTimeoutSeconds: 0,
    refusal: { reason, message },
  }) as ResolvedRoute

export const invalidPath = refusal(
  'invalid_request',
  'the request path is not a path, or not valid percent-encoding: send an absolute path such as /api/x',
)
export const ambiguousPath = refusal(
  'ambiguous_path',
  'the request path under a priced route has a spelling that servers read in different ways (an encoded "/", "\\", "." or "%", a "\\" or ";", a "." or ".." segment, or "//"): send the plain path, with dot segments resolved and no encoded separators',
)

/** The longest ambiguous path read every way (a free one is served; a longer one is refused). */
const maxAmbiguousLength = 2048

/**
 * Paths the paywall answers itself, each by its one exact spelling on the request line;
 * `prefix`: that path and every path under it (`/__402x/admin/…`), answered whole by the
 * paywall (never handed on to the framework).
 */
export type SpecialRoutes = {
  path: string
  route: ResolvedRoute
  methods?: readonly string[]
  prefix?: boolean
  /**
   * Paths under `prefix` that are not this paywall's (the admin API's keys and plans on a
   * paywall without keys: another paywall of the app may have them). They are matched as any
   * other path: priced when a route prices them, refused when their spelling is ambiguous
   * under a priced route, never handed on free because of the prefix.
   */
  unless?: (target: string) => boolean
}[]

/**
 * The route of a request target: the special paths by their exact spelling only,
 * then every reading of the path against the table. An ambiguous spelling that any reading
 * prices, or puts under a priced route's literal prefix, is refused: the framework may
 * route it on a reading other than the one the paywall would pick.
 */
export function matchRequest(
  config: Pick<ResolvedPaywall, 'routes' | 'guardsAll'>,
  specials: SpecialRoutes,
  method: string,
  target: string,
): ResolvedRoute | undefined {
  for (const special of specials) {
    if (
      (isExactly(target, special.path) || (special.prefix && target.startsWith(`${special.path}/`))) &&
      (!special.methods || special.methods.includes(method)) &&
      !special.unless?.(target)
    )
      return special.route
  }
  // Per-route middleware: the framework has routed the request here, whatever its spelling.
  if (config.guardsAll) return config.routes[0]
  const reading = readPath(target)
  if (reading === undefined) return invalidPath
  const upper = method.toUpperCase()
  if (reading !== ambiguous) {
    // A loop, not `find`: a free route's match allocates nothing.
    for (const r of config.routes) if (r.pattern && matchRoute(r.pattern, upper, reading)) return r
    return undefined
  }
  const path = pathOf(target) as string
  // Reading a long odd path every way costs more than it is worth: refuse it rather than guess.
  if (path.length > maxAmbiguousLength) return ambiguousPath
  const priced = someReading(path, (p) =>
    config.routes.some((r) => r.pattern && (matchRoute(r.pattern, upper, p) || underPrefix(r.pattern, p))),
  )
  return priced ? ambiguousPath : undefined
}

/** Whether the target's path is exactly `path` (then a query or fragment, or nothing). */
function isExactly(target: string, path: string): boolean {
  if (!target.startsWith(path)) return false
  const next = target.charCodeAt(path.length)
  return Number.isNaN(next) || next === 63 || next === 35
}
