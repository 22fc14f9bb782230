import { isIPv4, isIPv6 } from 'node:net'
import { ipv6Groups } from '../paywall/ipv6Groups.js'

/**
 * The caller's address as counted: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as its
 * IPv4, any other IPv6 address by its first `subnet` bits (`/64` by default: one
 * subscriber's block, which it can rotate through freely; express-rate-limit's
 * CVE-2026-30827 came from counting each address alone). `false` counts each address alone.
 *
 * @example
 * callerIp('2001:db8:1:2::7') // '2001:db8:1:2::/64'
 * callerIp('::ffff:203.0.113.7') // '203.0.113.7'
 */
export function callerIp(given: string | undefined, subnet: number | false = 64): string | undefined {
  if (given === undefined || isIPv4(given)) return given
  // Spelled as a plain address (the usual case), nothing to rewrite.
  const ip = isIPv6(given) ? given : canonical(given)
  if (isIPv4(ip)) return ip
  const groups = ipv6Groups(ip)
  if (!groups) return ip
  // ::ffff:a.b.c.d (and its hex form ::ffff:0102:0304) is an IPv4 caller.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  const bits = subnet === false ? 128 : subnet
  const kept = groups.map((g, i) => {
    const from = i * 16
    if (from + 16 <= bits) return g
    if (from >= bits) return 0
    return g & (0xffff << (16 - (bits - from))) & 0xffff
  })
  const shown = kept.slice(0, Math.ceil(bits / 16)).map((g) => g.toString(16))
  return bits === 128 ? kept.map((g) => g.toString(16)).join(':') : `${shown.join(':')}::/${bits}`
}

/**
 * An address as a proxy may write it, in one spelling: `1.2.3.4:5678` and `[2001:db8::1]:443`
 * (some load balancers put the caller's port in `X-Forwarded-For`) without the port, and an
 * IPv4 address's octets without leading zeros (`01.2.3.004`), so that one caller is one count
 * however its address reached us. Anything else is left as it is.
 */
function canonical(ip: string): string {
  let text = ip.trim()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text)
  if (bracketed) text = bracketed[1] as string
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(text)
  if (withPort) text = withPort[1] as string
  const octets = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (octets) {
    const parts = octets.slice(1).map(Number)
    if (parts.every((n) => n <= 255)) return parts.join('.')
  }
  return text
}
