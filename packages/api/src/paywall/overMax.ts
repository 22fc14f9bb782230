import { formatMoney } from '@402x/core'
import type { Meter } from './metering.js'
import { errorResponse } from './responses.js'

const warned = new WeakSet<Meter>()

/**
 * Tells the seller, once per route, that its metered answers end early (above `max`, or a
 * meter that cannot count them): a sign that `max` is too low or `countTokens` is needed.
 */
export function warnOnce(meter: Meter, message: string, resource?: string): void {
  if (warned.has(meter)) return
  warned.add(meter)
  console.warn(`402x: ${meter.route}${resource ? ` (${resource})` : ''}: ${message}`)
}

/**
 * The answer to a buffered metered response that costs more than its route's `max`, with
 * `overMax: 'refuse'`: a 502 `metered_over_max`; the handler's body is not sent (the caller
 * is charged nothing).
 *
 * @example
 * if (charge > reserved && meter.overMax === 'refuse') return refuseOverMax(meter, charge, 6, url)
 */
export function refuseOverMax(meter: Meter, charge: bigint, decimals: number, resource: string): Response {
  const cost = formatMoney(charge, decimals)
  warnOnce(
    meter,
    `an answer cost $${cost}, above the route's max of $${meter.max}: it was not served (502 metered_over_max). Raise max, keep answers within it, or set overMax: 'cap' to serve them at the max.`,
    resource,
  )
  return errorResponse(
    502,
    'metered_over_max',
    `the answer would cost $${cost}, above this route's max of $${meter.max}: it was not served and nothing was charged`,
  )
}
