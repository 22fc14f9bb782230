import { isIPv6 } from 'node:net'

/**
 * The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail and a zone id allowed),
 * or `undefined` when it is not one: what the rate limits group by (`callerIp`) and the
 * webhook SSRF guard judges (`isInternalAddress`).
 *
 * @example
 * ipv6Groups('::ffff:127.0.0.1') // [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]
 */
export function ipv6Groups(address: string): number[] | undefined {
  const ip = address.replace(/%.*$/, '')
  if (!isIPv6(ip)) return undefined
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (v4) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number)
    text = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail = ''] = text.split('::')
  const left = head ? head.split(':') : []
  const right = text.includes('::') ? (tail ? tail.split(':') : []) : []
  const all = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return all.map((g) => Number.parseInt(g, 16))
}
