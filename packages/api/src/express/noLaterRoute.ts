import type { NodeRequest } from '../node/nodeMiddleware.js'
import { looksThrough } from '../paywall/looksThrough.js'

/** The parts of an Express 4 or 5 router layer read here (never written). */
type Layer = {
  handle: unknown
  /** `_handlesMethod` in Express 5 (`router` 2), `_handles_method` in Express 4. */
  route?: { _handlesMethod?(method: string): boolean; _handles_method?(method: string): boolean }
  /** Express 5 (`router` 2): one matcher per path, side-effect free. */
  matchers?: ((path: string) => unknown)[]
  /** Express 5: a `use` at `/`, which matches every path. */
  slash?: boolean
  /** Express 4. */
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean }
}

type App = { _router?: { stack?: Layer[] }; router?: { stack?: Layer[] }; mountpath?: unknown; parent?: unknown }

/**
 * Whether no route after `self` in the app's router serves this method and path, so that
 * Express would answer 404: then a 402 would ask for a payment nothing can use. `false`
 * whenever it cannot be sure: the middleware is not found at the app's top level, the app
 * is mounted in another, or a later middleware (which may answer anything) matches the path.
 */
export function noLaterRoute(req: NodeRequest, self: unknown): boolean {
  try {
    const app = (req as { app?: App }).app
    if (!app || app.parent !== undefined || (app.mountpath !== undefined && app.mountpath !== '/')) return false
    // Express 4 keeps the router in `_router` (its `app.router` throws); Express 5 in `router`.
    const stack = ('_router' in app ? app._router : app.router)?.stack
    if (!stack) return false
    const at = stack.findIndex((layer) => layer.handle === self)
    if (at < 0) return false
    // The path as Express's router reads it (`parseurl`): an absolute-form target by its
    // path, without the query or fragment, not decoded.
    const raw = (req.originalUrl ?? req.url ?? '/').replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '')
    const end = raw.search(/[?#]/)
    const path = end < 0 ? raw : raw.slice(0, end)
    if (!path.startsWith('/')) return false
    const method = req.method ?? 'GET'
    for (const layer of stack.slice(at + 1)) {
      const matches = layer.matchers
        ? layer.slash === true || layer.matchers.some((match) => match(path) !== false)
        : layer.regexp
          ? layer.regexp.fast_slash === true || layer.regexp.fast_star === true || layer.regexp.test(path)
          : true
      if (!matches) continue
      if (layer.route) {
        const handles = layer.route._handlesMethod ?? layer.route._handles_method
        if (typeof handles !== 'function' || handles.call(layer.route, method)) return false
        continue
      }
      // An error handler never sees a request that has not failed; any other middleware might
      // answer it, except another paywall, which either prices a route or passes it on.
      if (typeof layer.handle === 'function' && layer.handle.length === 4) continue
      if (typeof layer.handle === 'function' && looksThrough in layer.handle) continue
      return false
    }
    return true
  } catch {
    return false
  }
}
