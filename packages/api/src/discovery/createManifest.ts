import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { describeRoute } from './describeRoute.js'
import { type OfferedRequirements, offeredRequirements, type PriceInfo, priceOf } from './paymentInfo.js'
import { seenResources } from './seenResources.js'
import { findContract, type Json } from './sellerDocument.js'

/** One paid resource of the manifest (x402 `specs/extensions/well-known-discovery.md`). */
export type ManifestItem = {
  resource: { url: string; description?: string; mimeType: string }
  type: 'http'
  /** v2 requirements, one per accepted option; without `amount` when the price is dynamic. */
  accepts: OfferedRequirements[]
  /** 402x: the price in dollars, or `dynamic` (the live 402 is authoritative). */
  price: PriceInfo
  input: {
    /** Absent for a route that charges any method. */
    method?: string
    routeTemplate?: string
    pathParams?: Json
    queryParams?: Json
    body?: Json
    bodyType?: string
  }
  output: { mimeType: string; example?: unknown; schema?: Json }
}

export type Manifest = {
  x402Version: 2
  /** x402 `specs/extensions/discovery.md`: what this host is. */
  kind: 'resource-server'
  /** Unix seconds when this paywall's manifest was first built (routes change only on restart). */
  lastUpdated: number
  /** The same instant, ISO 8601 (`discovery.md`'s `updated`). */
  updated: string
  items: ManifestItem[]
  /** `discovery.md`'s bare pointers: request each for its live 402 (with the bazaar extension). */
  resources: { url: string; method?: string; description?: string }[]
  /** Where the OpenAPI document is, when served. */
  openapi?: string
  'x-402x'?: { partial: string }
}

const configured = new WeakMap<ResolvedPaywall, number>()

/**
 * The `/.well-known/x402` manifest: every paid resource with its URL (the request's origin
 * and the route's path; `:param` segments as written), method, price, the requirements its
 * 402 offers, description and MIME type. A paywall without a route table lists the paths
 * that requests have reached (its own paths are not in its configuration).
 */
export function createManifest(config: ResolvedPaywall, origin: string): Manifest {
  let at = configured.get(config)
  if (at === undefined) {
    at = Math.floor(Date.now() / 1000)
    configured.set(config, at)
  }
  const seller = config.discovery ? config.discovery.openapi : undefined
  const item = (
    route: ResolvedRoute,
    path: string,
    method: string | undefined,
    routeTemplate?: string,
  ): ManifestItem => {
    const contract = method ? findContract(seller, config.routes, route, method) : undefined
    const pathParams = route.pattern ? describeRoute(route.pattern).params.map((p) => p.name) : []
    return {
      resource: {
        url: `${origin}${path}`,
        ...(route.description ? { description: route.description } : {}),
        mimeType: route.mimeType,
      },
      type: 'http',
      accepts: offeredRequirements(config, route),
      price: priceOf(route),
      input: {
        ...(method ? { method } : {}),
        ...(routeTemplate ? { routeTemplate } : {}),
        ...(pathParams.length
          ? {
              pathParams: {
                type: 'object',
                properties: Object.fromEntries(pathParams.map((name) => [name, { type: 'string' }])),
                required: pathParams,
              },
            }
          : {}),
        ...(contract?.query ? { queryParams: { type: 'object', ...contract.query.schema } } : {}),
        ...(contract?.body ? { body: contract.body.schema, bodyType: contract.body.bodyType } : {}),
      },
      output: {
        mimeType: route.mimeType,
        ...(contract?.output?.example !== undefined ? { example: contract.output.example } : {}),
        ...(contract?.output?.schema ? { schema: contract.output.schema } : {}),
      },
    }
  }
  const items: ManifestItem[] = []
  for (const route of config.routes) {
    if (!route.pattern) continue
    const shape = describeRoute(route.pattern)
    const path = shape.routeTemplate ?? shape.path
    items.push(item(route, path, shape.method === '*' ? undefined : shape.method, shape.routeTemplate))
  }
  const guarded = config.guardsAll ? config.routes[0] : undefined
  if (guarded) for (const seen of seenResources(config)) items.push(item(guarded, seen.path, seen.method))
  const openapiPath = config.discovery ? config.discovery.openapiPath : false
  return {
    x402Version: 2,
    kind: 'resource-server',
    lastUpdated: at,
    updated: new Date(at * 1000).toISOString(),
    items,
    resources: items.map((i) => ({
      url: i.resource.url,
      ...(i.input.method ? { method: i.input.method } : {}),
      ...(i.resource.description ? { description: i.resource.description } : {}),
    })),
    ...(openapiPath ? { openapi: `${origin}${openapiPath}` } : {}),
    ...(guarded
      ? {
          'x-402x': {
            partial:
              'This paywall guards every path it is mounted on, so its paths are not in its configuration: a path is listed once a request has reached it.',
          },
        }
      : {}),
  }
}
