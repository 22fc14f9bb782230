import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { normalizePath } from '../paywall/routes.js'
import type { RequestHead } from '../paywall/types.js'
import { createManifest } from './createManifest.js'
import { createOpenApi } from './createOpenApi.js'
import { seenResources } from './seenResources.js'
import type { Json } from './sellerDocument.js'

/** The OpenAPI document per paywall and origin, rebuilt when a guard-all paywall saw a new path. */
const cache = new WeakMap<ResolvedPaywall, Map<string, { seen: number; document: string }>>()

/**
 * The discovery documents a paywall serves (`/openapi.json`, `/.well-known/x402`), or
 * `undefined` when the request is not for one of them. Public and free: any origin may read
 * them (`Access-Control-Allow-Origin: *`).
 */
export function serveDiscovery(config: ResolvedPaywall, request: RequestHead): Response | undefined {
  if (!config.discovery || (request.method !== 'GET' && request.method !== 'HEAD')) return undefined
  const url = new URL(request.url)
  const path = normalizePath(url.pathname)
  if (!path) return undefined
  if (path === config.discovery.openapiPath) return json(openApiFor(config, url.origin))
  if (path === config.discovery.manifestPath) return json(JSON.stringify(createManifest(config, url.origin)))
  return undefined
}

/** Whether a GET to this normalised path is one of the discovery documents. */
export function isDiscoveryPath(config: ResolvedPaywall, path: string): boolean {
  if (!config.discovery) return false
  return path === config.discovery.openapiPath || path === config.discovery.manifestPath
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

/** Marks the discovery documents in `match` (never priced). */
export const discoveryRoute: ResolvedRoute = Object.freeze({
  usesPayer: false,
  needsRequest: false,
  description: 'discovery',
  mimeType: 'application/json',
  maxTimeoutSeconds: 0,
}) as ResolvedRoute
