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
    query: Object.fromEntries(url.searchParams),
    params: extra.params ?? (route?.pattern ? paramsOf(route.pattern, path) : {}),
    body: await readBody(request),
    ip: extra.ip,
    raw: request,
  }
}

async function readBody(request: Request): Promise<unknown> {
  if (!request.body || request.bodyUsed) return undefined
  const type = request.headers.get('content-type') ?? ''
  const copy = request.clone()
  if (/[/+]json\b/i.test(type)) {
    const text = await copy.text()
    if (!text) return undefined
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  if (/application\/x-www-form-urlencoded/i.test(type))
    return Object.fromEntries(new URLSearchParams(await copy.text()))
  const text = await copy.text()
  return text === '' ? undefined : text
}
