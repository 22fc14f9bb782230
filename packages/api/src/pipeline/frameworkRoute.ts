/**
 * The route the framework matched for a request, as its code wrote it: Express's
 * `req.baseUrl` + `req.route.path` (`/v1` + `/market/:symbol`), Hono's `routePath`.
 * `undefined` when it names none (plain Node `http`, a bare `app.use(path, …)`, a catch-all):
 * a per-route paywall then knows its route only by the path.
 *
 * @example
 * frameworkRoute(req) // '/api/market/:symbol'
 */
export function frameworkRoute(req: unknown): string | undefined {
  const r = req as { route?: { path?: unknown }; baseUrl?: unknown; routePath?: unknown } | undefined
  const express = r?.route?.path
  if (typeof express === 'string') return `${typeof r?.baseUrl === 'string' ? r.baseUrl : ''}${express}`
  const hono = r?.routePath
  return typeof hono === 'string' && hono !== '/*' ? hono : undefined
}
