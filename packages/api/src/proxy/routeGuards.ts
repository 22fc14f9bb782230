import { pathOf, readPath } from '../paywall/requestPath.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { compileRoute, matchRoute } from '../paywall/routes.js'
import type { ProxyConfig } from './proxyConfig.js'

/**
 * What the proxy decides before the paywall: free paths and each route's upstream. (Letter
 * case needs no guard: routes match without regard to it, as most servers route.)
 */
export type RouteGuards = {
  /** Whether a plain path is on the `free` list: sent on with nothing asked. */
  isFree(method: string, target: string): boolean
  /** The upstream name of each route of the paywall's table. */
  upstreamOf: Map<ResolvedRoute, string>
}

export function compileGuards(config: ProxyConfig, routes: readonly ResolvedRoute[]): RouteGuards {
  const free = config.free.map((source) => compileRoute(source))
  const upstreamOf = new Map<ResolvedRoute, string>()
  Object.values(config.routeUpstreams).forEach((name, i) => {
    const route = routes[i]
    if (name && route) upstreamOf.set(route, name)
  })
  /**
   * The path when it has one reading only, as the paywall reads paths (nothing to decode or
   * resolve, no `;` or `\`), else `undefined`: `/public/..;/paid` is not under `/public/*`
   * for a server that drops `;` parameters before it resolves `..` (Tomcat, Spring).
   */
  const plainPath = (target: string) => {
    const path = pathOf(target)
    return path !== undefined && readPath(target) === path ? path : undefined
  }
  return {
    isFree(method, target) {
      if (free.length === 0) return false
      const path = plainPath(target)
      const upper = method.toUpperCase()
      return path !== undefined && free.some((pattern) => matchRoute(pattern, upper, path))
    },
    upstreamOf,
  }
}
