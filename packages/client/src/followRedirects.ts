const redirects = new Set([301, 302, 303, 307, 308])

export type FollowOptions = {
  method: string
  headers: Headers
  body?: ArrayBuffer
  signal?: AbortSignal
  /** The caller's redirect mode. */
  redirect: NonNullable<RequestInit['redirect']>
  /** The `Authorization` value for one hop's URL, if any: called again on every hop. */
  authorization: (url: string) => string | undefined
}

/**
 * `fetch` that follows redirects itself, so that each hop carries the credential of its own
 * origin and no other (a bearer token never leaves the origin that issued it, whatever the
 * wrapped fetch does with `Authorization` on a redirect). Methods and bodies change as
 * `fetch` changes them: 303, and 301/302 after a POST, become a GET without a body.
 *
 * @example
 * const res = await followRedirects(fetch, url, { method: 'GET', headers, redirect: 'follow', authorization: () => undefined })
 */
export async function followRedirects(base: typeof fetch, url: string, options: FollowOptions): Promise<Response> {
  let { method, body } = options
  const headers = new Headers(options.headers)
  for (let hop = 0, current = url; hop <= 20; hop++) {
    const authorization = options.authorization(current)
    if (authorization) headers.set('authorization', authorization)
    else headers.delete('authorization')
    const response = await base(current, {
      method,
      headers,
      ...(body ? { body } : {}),
      redirect: 'manual',
      ...(options.signal ? { signal: options.signal } : {}),
    })
    const location = response.headers.get('location')
    // (A browser's opaque redirect cannot be followed by hand: it is returned as it is.)
    if (options.redirect === 'manual' || !redirects.has(response.status) || !location) return response
    await response.body?.cancel()
    if (options.redirect === 'error') throw new TypeError(`fetch failed: ${current} redirected and redirect is 'error'`)
    if (response.status === 303 ? method !== 'HEAD' : response.status < 303 && method === 'POST') {
      method = 'GET'
      body = undefined
      for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'])
        headers.delete(name)
    }
    current = new URL(location, current).href
  }
  throw new TypeError(`fetch failed: more than 20 redirects from ${url}`)
}
