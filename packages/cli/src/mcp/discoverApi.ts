import { z } from 'zod'

/** One route a seller lists, with its price. */
export type DiscoveredRoute = {
  method: string
  /** The URL to call (`:param` segments as the seller wrote them). */
  url: string
  /** Dollars per call (`"0.01"`), `"dynamic"` (the 402 says), or `"free"`. */
  price: string
  description?: string
  /** Where it was listed. */
  source: 'well-known' | 'openapi'
}

export type Discovery = {
  origin: string
  title?: string
  routes: DiscoveredRoute[]
  /** The documents read, and why one could not be. */
  documents: { url: string; found: boolean; note?: string }[]
}

const maxBytes = 2 * 1024 * 1024
const methods = ['get', 'post', 'put', 'patch', 'delete'] as const

const PriceSchema = z.looseObject({ mode: z.string(), amount: z.string().optional() })
const ManifestSchema = z.looseObject({
  items: z
    .array(
      z.looseObject({
        resource: z.looseObject({ url: z.string(), description: z.string().optional() }),
        price: PriceSchema.optional(),
        accepts: z.array(z.looseObject({ amount: z.string().optional() })).optional(),
        input: z.looseObject({ method: z.string().optional() }).optional(),
      }),
    )
    .default([]),
  resources: z.array(z.looseObject({ url: z.string(), method: z.string().optional() })).default([]),
  openapi: z.string().optional(),
})
const OperationSchema = z.looseObject({
  summary: z.string().optional(),
  description: z.string().optional(),
  'x-payment-info': z.looseObject({ price: PriceSchema.optional() }).optional(),
})
const OpenApiSchema = z.looseObject({
  info: z.looseObject({ title: z.string().optional() }).optional(),
  servers: z.array(z.looseObject({ url: z.string() })).optional(),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
})

const priceText = (price: z.infer<typeof PriceSchema> | undefined): string =>
  price?.mode === 'fixed' && price.amount ? price.amount : 'dynamic'

/**
 * What a seller says it sells: its x402 manifest (`/.well-known/x402`) and its OpenAPI
 * document (the manifest's `openapi`, else `/openapi.json`), read without paying. Routes of
 * the OpenAPI document without `x-payment-info` are listed as `free`.
 *
 * @example
 * const { routes } = await discoverApi('https://api.example.com')
 */
export async function discoverApi(url: string, fetcher: typeof fetch = fetch): Promise<Discovery> {
  const origin = new URL(url).origin
  const documents: Discovery['documents'] = []
  const routes = new Map<string, DiscoveredRoute>()
  const add = (route: DiscoveredRoute) => {
    const key = `${route.method} ${route.url}`
    if (!routes.has(key)) routes.set(key, route)
  }

  const manifestUrl = `${origin}/.well-known/x402`
  const manifest = await readJson(manifestUrl, fetcher, documents)
  const parsedManifest = manifest === undefined ? undefined : ManifestSchema.safeParse(manifest)
  if (parsedManifest && !parsedManifest.success) noteLast(documents, 'not an x402 manifest (no items)')
  const m = parsedManifest?.success ? parsedManifest.data : undefined
  for (const item of m?.items ?? []) {
    const amount = item.accepts?.[0]?.amount
    add({
      method: (item.input?.method ?? 'GET').toUpperCase(),
      url: item.resource.url,
      price: item.price ? priceText(item.price) : amount ? dollars(amount) : 'dynamic',
      ...(item.resource.description ? { description: item.resource.description } : {}),
      source: 'well-known',
    })
  }

  const openapiUrl = m?.openapi ? new URL(m.openapi, origin).href : `${origin}/openapi.json`
  const openapi = await readJson(openapiUrl, fetcher, documents)
  const parsed = openapi === undefined ? undefined : OpenApiSchema.safeParse(openapi)
  if (parsed && !parsed.success) noteLast(documents, 'not an OpenAPI document (no paths)')
  const doc = parsed?.success ? parsed.data : undefined
  const base = doc?.servers?.[0]?.url ? new URL(doc.servers[0].url, origin).href.replace(/\/$/, '') : origin
  for (const [path, item] of Object.entries(doc?.paths ?? {})) {
    for (const method of methods) {
      const op = OperationSchema.safeParse(item[method])
      if (!op.success) continue
      const info = op.data['x-payment-info']
      const description = op.data.summary ?? op.data.description
      add({
        method: method.toUpperCase(),
        url: `${base}${path.replace(/\{([^}]+)\}/g, ':$1')}`,
        price: info ? priceText(info.price) : 'free',
        ...(description ? { description } : {}),
        source: 'openapi',
      })
    }
  }
  const title = doc?.info?.title
  return { origin, ...(title ? { title } : {}), routes: [...routes.values()], documents }
}

/** 6-decimal atomic units as dollars: "10000" → "0.01". */
const dollars = (atomic: string) => {
  const padded = atomic.padStart(7, '0')
  return `${padded.slice(0, -6)}.${padded.slice(-6)}`.replace(/\.?0+$/, '')
}

const noteLast = (documents: Discovery['documents'], note: string) => {
  const last = documents.at(-1)
  if (last) Object.assign(last, { found: false, note })
}

async function readJson(url: string, fetcher: typeof fetch, documents: Discovery['documents']): Promise<unknown> {
  try {
    const response = await fetcher(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    })
    if (!response.ok) {
      documents.push({ url, found: false, note: `HTTP ${response.status}` })
      await response.body?.cancel()
      return undefined
    }
    const text = await response.text()
    if (text.length > maxBytes) {
      documents.push({ url, found: false, note: `over ${maxBytes} bytes` })
      return undefined
    }
    const json = JSON.parse(text)
    documents.push({ url, found: true })
    return json
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code
    documents.push({ url, found: false, note: cause ?? (error as Error).message })
    return undefined
  }
}
