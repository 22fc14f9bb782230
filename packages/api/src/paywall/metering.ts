import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { defaultEventTokens, defaultTokens, estimateTokens } from './countTokens.js'
import { dollars, toPlain } from './dollars.js'
import type { AnyResponse, MeteredResponse, Price, RouteOptions } from './types.js'

/** How a metered route counts what it serves. */
export type Meter = {
  kind: 'tokens' | 'seconds' | 'items' | 'units'
  /** Dollars per unit (token, second, item, unit of `meterResponse`). */
  unitPrice: string
  /** The most one request may cost, in dollars: what is reserved or paid up front. */
  max: string
  /** What an answer above `max` gets: refused (502 `metered_over_max`), or served at `max`. */
  overMax: 'refuse' | 'cap'
  /** The route, as the seller's warnings name it. */
  route: string
  /** Units in a whole (parsed) response. */
  count(response: MeteredResponse): number
  /**
   * Units in one SSE event (`text`: its `data:`, or the whole event for `meterResponse`);
   * `{ total }` when the event states the stream's units so far (a `usage`).
   */
  countEvent(event: AnyResponse, text: string): number | { total: number }
  /** Units in one chunk of another stream. */
  countChunk(text: string): number
  /** `meterWhole`: the answer is counted whole (`count`), never event by event. */
  whole: boolean
  /** What a token stream that stated no `usage` is charged: its estimate, or `max`. */
  missingUsage: 'estimate' | 'max'
}

/** The maximum a route gets when it does not declare one, in its own units. */
const defaultMaxUnits = { tokens: 4096, seconds: 60, items: 100, units: 1000 } as const

/** The fraction digits units are counted to (1e-9 of a token, a second, a KB). */
const unitScale = 9

/** `undefined` when the route is not metered; else its meter, checked. */
export function resolveMeter(route: RouteOptions, name: string, decimals: number): Meter | undefined {
  const fail = (message: string) => new X402Error('invalid_config', { message: `${name}: ${message}` })
  const timed = route.trackTime || route.trackExecutionTime
  const kinds = [
    route.pricePerToken !== undefined && 'pricePerToken',
    route.pricePerSecond !== undefined && 'pricePerSecond',
    route.countItems && 'countItems',
    route.meterResponse && 'meterResponse',
  ].filter(Boolean)
  if (route.overMax !== undefined && route.overMax !== 'refuse' && route.overMax !== 'cap') {
    throw fail(`overMax is ${JSON.stringify(route.overMax)}: give 'refuse' (the default) or 'cap'`)
  }
  if (route.missingUsage !== undefined) {
    if (route.missingUsage !== 'estimate' && route.missingUsage !== 'max') {
      throw fail(`missingUsage is ${JSON.stringify(route.missingUsage)}: give 'estimate' (the default) or 'max'`)
    }
    if (route.pricePerToken === undefined) throw fail('missingUsage is for pricePerToken')
  }
  if (kinds.length === 0) {
    if (route.overMax !== undefined) throw fail('overMax is for metered prices (pricePerToken, pricePerSecond …)')
    if (route.meterWhole !== undefined) throw fail('meterWhole is for metered prices (pricePerToken, meterResponse …)')
    if (timed) throw fail('trackTime and trackExecutionTime need pricePerSecond')
    if (route.countTokens) throw fail('countTokens needs pricePerToken')
    if (route.max !== undefined) throw fail('max is for metered prices (pricePerToken, pricePerSecond …)')
    return undefined
  }
  if (kinds.length > 1) throw fail(`one metered price per route, not ${kinds.join(' and ')}`)
  const unitPriceOf = (value: Price | unknown, what: string): string => {
    if (typeof value !== 'number' && typeof value !== 'string')
      throw fail(`${what} must be a price in dollars (e.g. 0.0001), not a function`)
    const text = dollars(value)
    let scaled: bigint
    try {
      scaled = scaledOf(text, decimals + unitScale)
    } catch {
      throw fail(`${what} is "${value}", which is not an amount of dollars`)
    }
    if (scaled <= 0n) throw fail(`${what} must be above 0`)
    return text
  }
  let kind: Meter['kind']
  let unitPrice: string
  let count: Meter['count']
  let countEvent: Meter['countEvent']
  let countChunk: Meter['countChunk']
  if (route.pricePerToken !== undefined) {
    if (route.price !== undefined) throw fail('pricePerToken replaces price: give one of them')
    kind = 'tokens'
    unitPrice = unitPriceOf(route.pricePerToken, 'pricePerToken')
    const fn = route.countTokens
    count = fn ? (r) => fn(r.body) : (r) => defaultTokens(r.body)
    countEvent = fn ? (event) => fn(event) : defaultEventTokens
    countChunk = fn ? (text) => fn(text) : estimateTokens
  } else if (route.pricePerSecond !== undefined) {
    if (route.price !== undefined) throw fail('pricePerSecond replaces price: give one of them')
    if (!timed) throw fail('pricePerSecond needs trackTime: true or trackExecutionTime: true')
    kind = 'seconds'
    unitPrice = unitPriceOf(route.pricePerSecond, 'pricePerSecond')
    count = () => 0
    countEvent = () => 0
    countChunk = () => 0
  } else if (route.countItems) {
    if (route.price === undefined) throw fail('countItems charges price per item: give price: 0.02')
    kind = 'items'
    unitPrice = unitPriceOf(route.price, 'price (per item)')
    const fn = route.countItems
    count = (r) => fn(r.body)
    countEvent = (event) => fn(event)
    countChunk = (text) => fn(text)
  } else {
    if (route.price === undefined) throw fail('meterResponse charges price per unit: give price: 0.01')
    kind = 'units'
    unitPrice = unitPriceOf(route.price, 'price (per unit)')
    const fn = route.meterResponse as NonNullable<RouteOptions['meterResponse']>
    count = (r) => fn(r)
    countEvent = (event, text) => fn({ data: text, body: event, status: 200, headers: new Headers() })
    countChunk = (text) => fn({ data: text, body: text, status: 200, headers: new Headers() })
  }
  let max: string
  if (route.max !== undefined) {
    max = dollars(route.max)
    let atomic: bigint
    try {
      atomic = parseMoney(max, { decimals, rounding: 'half-up', name: `max of ${name}` })
    } catch (error) {
      throw fail((error as Error).message)
    }
    if (atomic <= 0n) throw fail(`max is ${route.max}: give the most one request may cost, above 0`)
    max = formatMoney(atomic, decimals)
  } else {
    max = formatMoney(chargeFor(defaultMaxUnits[kind], unitPrice, decimals), decimals)
  }
  if (route.meterWhole !== undefined && typeof route.meterWhole !== 'boolean') {
    throw fail('meterWhole is true or false')
  }
  const whole = route.meterWhole === true
  const missingUsage = route.missingUsage ?? 'estimate'
  return {
    kind,
    unitPrice,
    max,
    overMax: route.overMax ?? 'refuse',
    route: name,
    count,
    countEvent,
    countChunk,
    whole,
    missingUsage,
  }
}

/** The charge for `units` at `unitPrice` dollars, in atomic units, rounded half-up. */
export function chargeFor(units: number, unitPrice: string, decimals: number): bigint {
  if (!Number.isFinite(units) || units < 0) {
    throw new X402Error('internal_error', {
      message: `the route's meter counted ${units}: it must return a number of units, 0 or more`,
    })
  }
  const u = scaledOf(toPlain(units), unitScale)
  const p = scaledOf(dollars(unitPrice), decimals + unitScale)
  const divisor = 10n ** BigInt(2 * unitScale)
  return (u * p + divisor / 2n) / divisor
}

/** A non-negative decimal as an integer scaled by 10^scale (digits beyond it are dropped). */
function scaledOf(text: string, scale: number): bigint {
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text)
  if (!match || (match[1] === '' && !match[2])) throw new Error(`not a decimal: ${text}`)
  const whole = match[1] || '0'
  const fraction = (match[2] ?? '').slice(0, scale).padEnd(scale, '0')
  return BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction || '0')
}

/** The parsed body of a buffered response, for the meters. */
export function meteredResponse(body: Uint8Array | null, status: number, headers: Headers): MeteredResponse {
  const data = body ? new TextDecoder().decode(body) : ''
  let parsed: AnyResponse
  if (data && /json/i.test(headers.get('content-type') ?? '')) {
    try {
      parsed = JSON.parse(data)
    } catch {}
  }
  return { data, body: parsed, status, headers }
}
