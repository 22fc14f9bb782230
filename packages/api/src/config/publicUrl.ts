import { X402Error } from '@402x/core'

/**
 * Checks the public URL of an API (`publicUrl`, `X402_PUBLIC_URL`): an absolute `http:` or
 * `https:` URL with at most a base path (`https://api.example.com`, `https://example.com/v1`),
 * no credentials, query or fragment. Returned without a trailing `/`, so a request path
 * appends to it. The resource URL in 402s, the ledger and the discovery documents then comes
 * from it, never from the request's Host header.
 */
export function checkPublicUrl(value: string, from: string): string {
  const fail = (why: string) =>
    new X402Error('invalid_config', {
      message: `publicUrl "${value}" (from ${from}) ${why}: give the URL callers use, such as https://api.example.com or https://example.com/base`,
      details: { setting: 'publicUrl' },
    })
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw fail('is not an absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail('is not http: or https:')
  if (url.username || url.password) throw fail('holds credentials')
  if (url.search || url.hash || /[?#]/.test(value)) throw fail('has a query or a fragment')
  // The base path as given must be its own canonical spelling (no dot segments, no escaped separators).
  const base = url.pathname.replace(/\/+$/, '')
  const given = value.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/\/+$/, '')
  if (given !== base || /%2f|%5c|%2e|\/\.\.?(?:\/|$)|\/\/|\\/i.test(given))
    throw fail('has a base path that is not plain')
  return `${url.origin}${base}`
}
