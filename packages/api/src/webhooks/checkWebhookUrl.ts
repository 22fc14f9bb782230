import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { X402Error } from '@402x/core'

/** Whether an IP address is private, loopback, link-local or otherwise not on the Internet. */
export function isInternalAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split('.').map(Number)
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
      a >= 224 // multicast, reserved, broadcast
    )
  }
  const v6 = v4.toLowerCase()
  return (
    v6 === '::' ||
    v6 === '::1' ||
    v6.startsWith('fc') ||
    v6.startsWith('fd') || // unique local
    /^fe[89ab]/.test(v6) || // link-local
    v6.startsWith('ff') // multicast
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
