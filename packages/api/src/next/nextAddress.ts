import { X402Error } from '@402x/core'
import type { NextRequest } from 'next/server.js'

/**
 * The Next.js adapter's own options: how it finds the caller's address. Next hands a route
 * handler no socket: the address is the platform's (`request.ip`, Next 14 on Vercel), else
 * the one the proxy in front of Next wrote into `X-Forwarded-For`.
 */
export type NextAddressOptions =
  | {
      /**
       * The caller's address, for the limits and free tiers that count by IP (`by: 'ip'`, the
       * default); `undefined` when there is none (logged once: such requests share one count).
       * E.g. `ip: (request) => request.headers.get('cf-connecting-ip') ?? undefined` behind
       * Cloudflare.
       *
       * @default `request.ip` where Next sets it (Next 14), else `X-Forwarded-For` as `trustedHops` reads it
       */
      ip?: (request: NextRequest) => string | undefined
      trustedHops?: never
    }
  | {
      ip?: never
      /**
       * How many proxies in front of Next append to `X-Forwarded-For` (nginx's
       * `$proxy_add_x_forwarded_for`, a load balancer): the caller is the entry that many from
       * the right, the address the outermost of them saw. Entries to its left are whatever the
       * caller sent, and are never read. `0`: the header is not read at all. A host that
       * replaces the header with the caller's address (Vercel) counts as one.
       *
       * With nothing in front of Next, `next start` keeps the header a caller sends: set `0`
       * and `ip`, or count with `by`.
       *
       * @default 1
       */
      trustedHops?: number
    }

/**
 * The caller's address for the Next.js adapter: `request.ip` where Next sets it (Next 14),
 * else the `X-Forwarded-For` entry `trustedHops` from the right; never the leftmost one, which
 * the caller writes itself.
 *
 * @example
 * nextAddress(request, 1) // X-Forwarded-For: 6.6.6.6, 203.0.113.7 → '203.0.113.7'
 */
export function nextAddress(request: Request, trustedHops = 1): string | undefined {
  const platform = (request as { ip?: unknown }).ip
  if (typeof platform === 'string' && platform) return platform
  if (trustedHops === 0) return undefined
  const hops = request.headers
    .get('x-forwarded-for')
    ?.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  if (!hops?.length) return undefined
  // Fewer entries than hops (a request that came in past the outer ones): each was written by a hop.
  return hops[Math.max(0, hops.length - trustedHops)]
}

/** The address-finder of the Next.js adapter for its options: the seller's `ip`, else `nextAddress`. */
export function nextAddressOf(
  options: NextAddressOptions,
  where: string,
): (request: NextRequest) => string | undefined {
  const { ip, trustedHops } = options
  if (ip && trustedHops !== undefined) {
    throw new X402Error('invalid_config', {
      message: `${where}: give \`ip\` or \`trustedHops\`, not both: \`ip\` alone decides the address`,
      details: { option: 'trustedHops', where },
    })
  }
  if (ip) return (request) => ip(request) || undefined
  return (request) => nextAddress(request, trustedHops)
}
