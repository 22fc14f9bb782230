// The priced routes, read from the paywall's OpenAPI document (x-payment-info on each operation).
export type PricedRoute = {
  method: string
  path: string
  summary: string
  price: string
}

type Operation = {
  summary?: string
  description?: string
  'x-payment-info'?: { price?: { mode: string; amount?: string } }
}

export function pricedRoutes(doc: { paths?: Record<string, Record<string, Operation>> }): PricedRoute[] {
  const out: PricedRoute[] = []
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      const info = op?.['x-payment-info']
      if (!info?.price) continue
      const price = info.price.mode === 'fixed' && info.price.amount ? `$${info.price.amount}` : 'priced per request'
      out.push({ method: method.toUpperCase(), path, summary: op.summary ?? op.description ?? '', price })
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method))
}

/** A route's path with its parameters filled with placeholders to edit (`/api/weather/{city}` → `/api/weather/city`). */
export const examplePath = (path: string) => path.replace(/\{([^}]+)\}/g, '$1')
