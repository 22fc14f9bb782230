import { X402Error } from '@402x/core'
import type { ResolvedRoute } from './resolvePaywall.js'
import { normalizePath, paramsOf } from './routes.js'
import type { WebRequestInfo } from './types.js'

/**
 * The request as Web-style adapters show it to pricing code (`price`, `validate`, `skip`,
 * `free.by`): the body parsed from a clone, so the handler can still read it.
 */
export async function webRequestInfo(
  request: Request,
  route: ResolvedRoute | undefined,
  extra: { ip?: string | undefined; params?: Record<string, string> } = {},
): Promise<WebRequestInfo> {
  const url = new URL(request.url)
  const path = normalizePath(url.pathname) ?? url.pathname
  return {
    method: request.method,
    url: request.url,
    path,
    headers: request.headers,
    query: firstOfEach(url.searchParams),
    params: extra.params ?? (route?.pattern ? paramsOf(route.pattern, path) : {}),
    body: await readBody(request),
    ip: extra.ip,
    raw: request,
  }
}

async function readBody(request: Request): Promise<unknown> {
  if (!request.body || request.bodyUsed) return undefined
  const type = request.headers.get('content-type') ?? ''
  const text = await readCapped(request)
  if (/[/+]json\b/i.test(type)) {
    if (!text) return undefined
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  if (/application\/x-www-form-urlencoded/i.test(type)) return firstOfEach(new URLSearchParams(text))
  return text === '' ? undefined : text
}

/** The most a request body may hold when 402x reads it for pricing (as on the Node adapters). */
export const maxPricedBody = 1024 * 1024

/** A body over {@link maxPricedBody}: 413 `request_too_large`. */
export const bodyTooLarge = () =>
  new X402Error('request_too_large', {
    message: `the body is over ${maxPricedBody} bytes, the most a priced request may send`,
  })

/** The body of a clone, as text, refusing more than {@link maxPricedBody} bytes. */
async function readCapped(request: Request): Promise<string> {
  if (Number(request.headers.get('content-length') ?? 0) > maxPricedBody) throw bodyTooLarge()
  const reader = (request.clone().body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxPricedBody) {
      // Not awaited: cancelling one branch of a teed body settles only once the other is
      // cancelled too, which is the framework's to do.
      void reader.cancel().catch(() => {})
      throw bodyTooLarge()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The first value of each key, as `URLSearchParams.get()` and Hono's `c.req.query()` read
 * it: a repeated key (`?n=1000&n=1`) cannot be priced from one value and served from another.
 */
function firstOfEach(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of params) if (!(key in out)) out[key] = value
  return out
}
