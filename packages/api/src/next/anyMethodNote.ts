import type { ResolvedRoute } from '../paywall/resolvePaywall.js'

/**
 * The proxy's 402 for a path priced for every method (a pattern with no method, `'/api/*'`)
 * says so: the proxy cannot see which methods the route handler exports, and one it does
 * not export answers 405 there, never charged. A pattern that names its method is priced
 * for that method only (others pass on to Next.js, which answers them).
 */
export async function withAnyMethodNote(response: Response, route: ResolvedRoute, method: string): Promise<Response> {
  const patternMethod = route.pattern?.method
  if (response.status !== 402 || (patternMethod !== undefined && patternMethod !== '*')) return response
  let body: Record<string, unknown>
  try {
    body = (await response.clone().json()) as Record<string, unknown>
  } catch {
    return response
  }
  body.note = `this path is priced for every method; if its route handler does not serve ${method}, it answers 405 and nothing is charged: check the method before you pay`
  const headers = new Headers(response.headers)
  headers.delete('content-length')
  return new Response(JSON.stringify(body), { status: response.status, headers })
}
