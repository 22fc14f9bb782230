import type { Paywall } from '../paywall/createPaywall.js'

export type PortalAnswer = { status: number; headers: Headers; json: Record<string, unknown>; text: string }

/**
 * A browser's view of one paywall's portal for tests: requests as an adapter hands them to
 * the core, from the address `ip`, with a cookie jar that keeps what `Set-Cookie` sets (as a
 * browser would).
 */
export function portalBrowser(paywall: Paywall, origin = 'http://127.0.0.1:4021', ip = '203.0.113.7') {
  let cookie: string | undefined
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<PortalAnswer> => {
    const headers: Record<string, string> = { ...options.headers }
    if (cookie) headers.cookie = cookie
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    const request = new Request(`${origin}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    })
    const decision = await paywall.handle(request, undefined, { ip })
    if (decision.type !== 'respond') throw new Error(`${method} ${path}: ${decision.type}, not an answer`)
    const set = decision.response.headers.get('set-cookie')
    if (set) {
      const pair = set.split(';')[0] as string
      cookie = /Max-Age=0(;|$)/.test(set) ? undefined : pair
    }
    const text = await decision.response.text()
    let json: Record<string, unknown> = {}
    try {
      json = text ? JSON.parse(text) : {}
    } catch {}
    return { status: decision.response.status, headers: decision.response.headers, json, text }
  }
  return {
    call,
    api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, `/__402x/portal/api${path}`, {
        ...(body !== undefined ? { body } : {}),
        ...(headers ? { headers } : {}),
      }),
    get cookie() {
      return cookie
    },
    set cookie(value: string | undefined) {
      cookie = value
    },
  }
}
