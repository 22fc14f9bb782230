import { parseMoney, X402Error } from '@402x/core'
import { dollars } from './dollars.js'
import type { ResolvedOption, ResolvedRoute } from './resolvePaywall.js'
import type { FreeTier, RouteOptions } from './types.js'

// A route's price (fixed, a function, or per minute) and its free tier, checked at start-up
// (resolvePaywall.ts).

/** A route's price as the pipeline uses it; a fixed price is checked in every accepted asset. */
export function resolvePrice(
  route: RouteOptions,
  name: string,
  accepts: ResolvedOption[],
): Pick<ResolvedRoute, 'price' | 'priceFn' | 'usesPayer'> {
  const { price, pricePerMinute, calculateMinutes } = route
  if (pricePerMinute !== undefined) {
    if (price !== undefined || typeof calculateMinutes !== 'function') {
      throw new X402Error('invalid_config', {
        message: `${name}: pricePerMinute needs calculateMinutes: (req) => minutes, and no price`,
      })
    }
    checkFixed(pricePerMinute, `pricePerMinute of ${name}`, accepts, true)
    const perMinute = dollars(pricePerMinute)
    return {
      priceFn: async (req) => `${Number(perMinute) * Number(await calculateMinutes(req))}`,
      usesPayer: false,
    }
  }
  if (typeof price === 'function') return { priceFn: price, usesPayer: price.length >= 2 }
  if (price === undefined) {
    throw new X402Error('invalid_config', {
      message: `${name} has no price: give price: 0.01, price: (req) => …, or pricePerMinute with calculateMinutes`,
    })
  }
  checkFixed(price, `price of ${name}`, accepts, false)
  return { price: dollars(price), usesPayer: false }
}

/** A fixed price must be a valid amount above 0 in every accepted asset. */
function checkFixed(price: string | number, name: string, accepts: ResolvedOption[], allowRounding: boolean) {
  for (const option of accepts) {
    const amount = parseMoney(price, {
      decimals: option.asset.decimals,
      name,
      ...(allowRounding ? { rounding: 'half-up' as const } : {}),
    })
    if (amount <= 0n && !allowRounding) {
      throw new X402Error('invalid_config', {
        message: `${name} is ${price}: a paid route needs a price above 0 (leave a free route out)`,
      })
    }
  }
}

export function resolveFree(free: FreeTier, name: string): NonNullable<ResolvedRoute['free']> {
  if (!Number.isInteger(free.requests) || free.requests < 0) {
    throw new X402Error('invalid_config', {
      message: `${name}: free.requests is ${free.requests}: give a whole number of free requests per window`,
    })
  }
  const windowMs = free.windowMs ?? 86_400_000
  if (!(windowMs > 0)) {
    throw new X402Error('invalid_config', { message: `${name}: free.windowMs must be above 0 (ms)` })
  }
  return {
    requests: free.requests,
    windowMs,
    by: free.by ?? 'ip',
    keyHeader: (free.keyHeader ?? 'x-api-key').toLowerCase(),
  }
}
