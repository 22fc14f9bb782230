import { toPlain } from '../paywall/dollars.js'
import type { Price, RouteOptions } from '../paywall/types.js'

/** One route of `402x.yaml`, as the paywall takes it, and the upstream it goes to. */
export type ProxyRoute = {
  options: RouteOptions | Price
  upstream: string | undefined
}

/** What a route of `402x.yaml` may hold: the middleware's route settings that YAML can write. */
const routeKeys = [
  'price',
  'pricePerToken',
  'pricePerSecond',
  'pricePerKb',
  'max',
  'overMax',
  'description',
  'mimeType',
  'maxTimeoutSeconds',
  'nonceExpiry',
  'rateLimit',
  'accept',
  'free',
  'upstream',
  'usageHeader',
  'missingUsage',
]

/** The fields that hold dollars: a YAML number there is read as the decimal it was written as. */
const moneyKeys = ['price', 'pricePerToken', 'pricePerSecond', 'pricePerKb', 'max']

/**
 * YAML reads `0.0000006` as a number, which JavaScript writes `6e-7`: not an amount of
 * dollars to the paywall. Its exact decimal text is.
 */
const money = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? toPlain(value) : value)

/** A route's mistake, naming the field it is on (its line is found from it). */
class RouteError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}

/**
 * A `402x.yaml` route as paywall route options: a price (`0.01`), or a map of the
 * middleware's route settings plus `pricePerKb` (a price per 1000 bytes of the answer)
 * and `upstream` (the name of the upstream it goes to).
 */
export function toRouteOptions(value: unknown): ProxyRoute {
  if (typeof value === 'number' || typeof value === 'string') {
    return { options: money(value) as Price, upstream: undefined }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RouteError('give a price (0.01) or a map ({ price: 0.01 }, { pricePerToken: 0.00002, max: 0.05 })')
  }
  const route = { ...(value as Record<string, unknown>) }
  for (const key of Object.keys(route)) {
    if (!routeKeys.includes(key))
      throw new RouteError(`"${key}" is not a route setting: use ${routeKeys.join(', ')}`, key)
    if (moneyKeys.includes(key)) route[key] = money(route[key])
  }
  const upstream = route.upstream
  delete route.upstream
  if (upstream !== undefined && typeof upstream !== 'string') {
    throw new RouteError('upstream must be the name of one of the upstreams', 'upstream')
  }
  const prices = ['price', 'pricePerToken', 'pricePerSecond', 'pricePerKb'].filter((k) => route[k] !== undefined)
  if (prices.length !== 1) {
    throw new RouteError(
      prices.length === 0
        ? 'give its price: price, pricePerToken, pricePerSecond or pricePerKb'
        : `give one price, not ${prices.join(' and ')}`,
      prices[1],
    )
  }
  const usageHeader = route.usageHeader
  delete route.usageHeader
  if (usageHeader !== undefined) {
    if (typeof usageHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(usageHeader)) {
      throw new RouteError('usageHeader must be a header name, such as x-usage-tokens', 'usageHeader')
    }
    if (route.pricePerToken === undefined) {
      throw new RouteError('usageHeader counts tokens: give pricePerToken with it', 'usageHeader')
    }
    // The upstream's own count, from its answer's head: price × tokens (metered whole).
    route.price = route.pricePerToken
    delete route.pricePerToken
    route.meterResponse = headerCount(usageHeader.toLowerCase())
    route.meterWhole = true
  }
  // A stream whose upstream stated no usage (the caller can ask for none) is charged the
  // max, not an estimate from its text, which misses hidden reasoning tokens.
  if (route.pricePerToken !== undefined) route.missingUsage ??= 'max'
  if (route.pricePerSecond !== undefined) route.trackTime = true
  if (route.pricePerKb !== undefined) {
    // Per KB of the answer: 1000 bytes a unit, summed over a stream's chunks.
    route.price = route.pricePerKb
    delete route.pricePerKb
    route.meterResponse = perKb
  }
  return { options: route as RouteOptions, upstream }
}

/** The token count in a header; an answer without a whole number there is a `meter_failed` (charged nothing). */
const headerCount = (name: string) => (res: { headers: Headers }) => {
  const value = res.headers.get(name)
  const count = value === null ? Number.NaN : Number(value)
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`the upstream's answer has no whole number of tokens in ${name}`)
  }
  return count
}

const perKb = (res: { data: string }) => Buffer.byteLength(res.data) / 1000
