import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { X402Error } from '@402x/core'
import { ipv6Groups } from '../paywall/ipv6Groups.js'

/** Whether an IPv4 address (dotted) is private, loopback, link-local or otherwise not on the Internet. */
function isInternalV4(address: string): boolean {
  const [a = 0, b = 0, c = 0] = address.split('.').map(Number)
  return (
    a === 0 || // this network
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) || // documentation
    (a === 203 && b === 0 && c === 113) || // documentation
    a >= 224 // multicast, reserved, broadcast
  )
}

const v4Of = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`

/**
 * Whether an IP address is private, loopback, link-local or otherwise not on the Internet.
 * An IPv6 address that carries an IPv4 one is judged by it, however it is written
 * (`::ffff:127.0.0.1` and `::ffff:7f00:1`, which WHATWG URLs make of it; IPv4-compatible
 * `::a.b.c.d`; NAT64 `64:ff9b::/96`; 6to4 `2002::/16`); Teredo, NAT64's local-use prefix,
 * discard and documentation prefixes are refused outright.
 */
export function isInternalAddress(address: string): boolean {
  if (isIP(address) === 4) return isInternalV4(address)
  const g = ipv6Groups(address)
  if (!g) return true // not an address this guard can read: not trusted
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (zeroTo(8)) return true // ::
  if (zeroTo(7) && g7 === 1) return true // ::1
  // IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), IPv4-compatible (::/96).
  if (zeroTo(5) && g5 === 0xffff) return isInternalV4(v4Of(g6, g7))
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return isInternalV4(v4Of(g6, g7))
  if (zeroTo(6)) return isInternalV4(v4Of(g6, g7))
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isInternalV4(v4Of(g6, g7))
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true // NAT64 local use (64:ff9b:1::/48)
  if (g0 === 0x2002) return isInternalV4(v4Of(g1, g2)) // 6to4
  if (g0 === 0x2001 && g1 === 0) return true // Teredo
  if (g0 === 0x2001 && g1 === 0xdb8) return true // documentation
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return true // discard (100::/64)
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local (fc00::/7)
    (g0 & 0xffc0) === 0xfe80 || // link-local (fe80::/10)
    (g0 & 0xffc0) === 0xfec0 || // site-local, deprecated (fec0::/10)
    (g0 & 0xff00) === 0xff00 // multicast
  )
}

/** The reason a URL is refused before any lookup, or `undefined` when its form is good. */
export function urlProblem(url: string, localChain: boolean): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `"${url.slice(0, 200)}" is not a URL: give https://your-server.example/hooks`
  }
  if (parsed.protocol !== 'https:' && !(localChain && parsed.protocol === 'http:'))
    return `${parsed.protocol} is not allowed: webhooks go to https:// URLs (http:// only on the local chain)`
  if (parsed.username || parsed.password) return 'the URL holds a user name or password: put none in it'
  if (localChain) return undefined
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  if (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) && isInternalAddress(host)))
    return `${host} is a private, loopback or link-local address: webhooks go to public hosts (local ones only on the local chain, eip155:31337)`
  return undefined
}

/**
 * The SSRF guard: resolves a host and refuses it when any of its addresses is internal
 * (outside the local chain). Returns the addresses to connect to, so that the request goes
 * to what was checked (no second lookup a DNS rebinding could change).
 *
 * @example
 * const addresses = await resolvePublic('hooks.example.com', false)
 */
export async function resolvePublic(host: string, localChain: boolean): Promise<{ address: string; family: number }[]> {
  const bare = host.replace(/^\[|\]$/g, '')
  const found = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await lookup(bare, { all: true })
  if (!localChain) {
    const internal = found.find((a) => isInternalAddress(a.address))
    if (internal)
      throw new WebhookUrlError(
        `${host} resolves to ${internal.address}, a private, loopback or link-local address: webhooks go to public hosts (local ones only on the local chain, eip155:31337)`,
      )
  }
  return found
}

/** A webhook URL refused by the SSRF guard. */
export class WebhookUrlError extends X402Error {
  override readonly name = 'WebhookUrlError'
  constructor(message: string) {
    super('invalid_request', { message })
  }
}

/** Checks a URL in full (its form, then its addresses): the admin API's registration check. */
export async function checkWebhookUrl(url: string, localChain: boolean): Promise<void> {
  const problem = urlProblem(url, localChain)
  if (problem) throw new WebhookUrlError(problem)
  const host = new URL(url).hostname
  try {
    await resolvePublic(host, localChain)
  } catch (error) {
    if (error instanceof WebhookUrlError) throw error
    throw new WebhookUrlError(`${host} does not resolve (${(error as Error).message}): check the URL`)
  }
}
