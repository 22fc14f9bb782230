import type { SpecialRoutes } from '../paywall/matchRequest.js'
import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { createManifest } from './createManifest.js'
import { createOpenApi } from './createOpenApi.js'
import { seenResources } from './seenResources.js'
import type { Json } from './sellerDocument.js'

/** The OpenAPI document per paywall and origin, rebuilt when a guard-all paywall saw a new path. */
const cache = new WeakMap<ResolvedPaywall, Map<string, { seen: number; document: string }>>()

/**
 * A discovery document a paywall serves (`/openapi.json`, `/.well-known/x402`), public and
 * free: any origin may read it (`Access-Control-Allow-Origin: *`). `route` is the one the
 * matcher picked from the request line's exact path; `origin` the server URL the documents
 * name (the configured `publicUrl`, else the validated Host), never re-read from the request.
 */
export function serveDiscovery(config: ResolvedPaywall, route: ResolvedRoute, origin: string): Response {
  if (route === manifestRoute) return json(JSON.stringify(createManifest(config, origin)))
  return json(openApiFor(config, origin))
}

/** The discovery paths, matched by their exact spelling (GET and HEAD only). */
export function discoveryRoutes(config: ResolvedPaywall): SpecialRoutes {
  if (!config.discovery) return []
  const { openapiPath, manifestPath } = config.discovery
  const methods = ['GET', 'HEAD'] as const
  return [
    ...(openapiPath ? [{ path: openapiPath, route: openapiRoute, methods }] : []),
    ...(manifestPath ? [{ path: manifestPath, route: manifestRoute, methods }] : []),
  ]
}

function openApiFor(config: ResolvedPaywall, origin: string): string {
  let byOrigin = cache.get(config)
  if (!byOrigin) {
    byOrigin = new Map()
    cache.set(config, byOrigin)
  }
  const seen = seenResources(config).length
  const cached = byOrigin.get(origin)
  if (cached && cached.seen === seen) return cached.document
  const document = JSON.stringify(createOpenApi({ paywall: { config }, serverUrl: origin }) satisfies Json)
  // A few origins at most (hostnames the server answers to); never let callers grow it without bound.
  if (byOrigin.size >= 16) byOrigin.clear()
  byOrigin.set(origin, { seen, document })
  return document
}

const json = (body: string) =>
  new Response(body, {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'access-control-allow-origin': '*',
      'cache-control': 'public, max-age=60',
    },
  })

/** Marks a discovery document in `match` (never priced). */
const documentRoute = (description: string) =>
  Object.freeze({
    usesPayer: false,
    needsRequest: false,
    description,
    mimeType: 'application/json',
    maxTimeoutSeconds: 0,
  }) as ResolvedRoute
export const openapiRoute = documentRoute('discovery: OpenAPI')
export const manifestRoute = documentRoute('discovery: x402 manifest')
/** Whether a matched route is one of the discovery documents. */
export const isDiscoveryRoute = (route: ResolvedRoute) => route === openapiRoute || route === manifestRoute
