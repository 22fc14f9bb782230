/** The most route keys analytics tells apart, besides the routes configured in code. */
export const maxRouteKeys = 200

/** Where the requests of routes past {@link maxRouteKeys} are counted. */
export const otherRoute = 'other'

/**
 * The key a request's figures are counted under: its route. A paywall with a route table
 * names its routes by their pattern, but a per-route paywall on a framework without route
 * patterns (plain Node `http`, a bare `app.use(path, …)`) can only name them by the path,
 * which callers choose: so past `max` distinct keys, a new one counts as `other`. The
 * routes configured in code (`reserve`) are always their own, whoever came first.
 *
 * @example
 * const routes = createRouteKeys()
 * routes.reserve(['GET /api/weather/:city'])
 * routes.keyOf('/api/random-1') // '/api/random-1', until 200 keys are known; then 'other'
 */
export function createRouteKeys(max = maxRouteKeys) {
  const reserved = new Set<string>()
  const known = new Set<string>()
  return {
    /** Routes that always count under their own key (the patterns of route tables). */
    reserve(routes: Iterable<string>): void {
      for (const route of routes) reserved.add(route)
    },
    keyOf(route: string): string {
      if (reserved.has(route) || known.has(route) || route === otherRoute) return route
      if (known.size >= max) return otherRoute
      known.add(route)
      return route
    },
  }
}

export type RouteKeys = ReturnType<typeof createRouteKeys>
