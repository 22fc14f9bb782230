import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { createPaywall } from '../paywall/createPaywall.js'
import { dollars } from '../paywall/dollars.js'
import type { PaywallOptions, Price } from '../paywall/types.js'
import { nanoPerUnit } from './creditSession.js'
import type { ResolvedWebSocket } from './payOnConnect.js'
import type { X402WebSocketOptions } from './types.js'

const fail = (message: string) => new X402Error('invalid_config', { message: `createX402WebSocket(): ${message}` })

/** Default reserve per block and warning threshold, in billed units. */
const defaults = {
  message: { reserve: 1000, warn: 100 },
  KB: { reserve: 1000, warn: 100 },
  second: { reserve: 30, warn: 10 },
} as const

/** Checks the options and builds the paywall behind a WebSocket (throws at start-up, as `x402Middleware` does). */
export function resolveWebSocket(options: X402WebSocketOptions): ResolvedWebSocket {
  const { price, billing, deposit, warnBelow, reserveUnits, description, ...common } = options
  if (common && ('routes' in common || 'pricePerToken' in common)) {
    throw fail(
      'routes and metered prices are for HTTP: give price (to connect) and billing ({ perMessage | perKB | perSecond })',
    )
  }
  const kinds = billing
    ? (['perMessage', 'perKB', 'perSecond'] as const).filter((k) => billing[k as keyof typeof billing] !== undefined)
    : []
  if (billing && kinds.length !== 1) {
    throw fail(
      `billing takes one of perMessage, perKB or perSecond (got ${kinds.join(', ') || 'none'}), e.g. { perMessage: 0.0001 }`,
    )
  }
  if (!billing && price === undefined) {
    throw fail('give price (dollars to connect, e.g. 0.01) or billing ({ perMessage: 0.0001 }), or both')
  }
  if (billing && common.credits === false) throw fail('billing draws from credit: remove credits: false')
  if (!billing) {
    for (const [name, value] of Object.entries({ deposit, warnBelow, reserveUnits })) {
      if (value !== undefined) throw fail(`${name} is for billed streams: give billing too, or remove ${name}`)
    }
  }
  if (reserveUnits !== undefined && !(Number.isFinite(reserveUnits) && reserveUnits >= 1)) {
    throw fail(`reserveUnits is ${reserveUnits}: give a number of units of at least 1`)
  }
  const paywall = createPaywall({
    ...common,
    discovery: false,
    ...(billing
      ? { routes: {} }
      : { routes: { '/*': { price: price as Price, description: description ?? 'WebSocket stream' } } }),
  } as PaywallOptions)
  try {
    const { decimals } = paywall.config.asset
    const atomic = (value: Price, name: string, scale = 0) => {
      let amount: bigint
      try {
        amount = parseMoney(dollars(value), { decimals: decimals + scale, name, rounding: 'half-up' })
      } catch (error) {
        throw fail((error as Error).message)
      }
      return amount
    }
    const fixed = billing && price !== undefined ? atomic(price, 'price') : 0n
    if (!billing) return { paywall, fixed }
    const kind = kinds[0] as 'perMessage' | 'perKB' | 'perSecond'
    const unit = kind === 'perMessage' ? 'message' : kind === 'perKB' ? 'KB' : 'second'
    const unitPrice = atomic(billing[kind] as Price, `billing.${kind}`, 9)
    if (unitPrice <= 0n) throw fail(`billing.${kind} must be above 0`)
    const scale = nanoPerUnit
    const cost = (units: number) => (BigInt(Math.ceil(units)) * unitPrice + scale - 1n) / scale
    const block = cost(reserveUnits ?? defaults[unit].reserve)
    const credits = paywall.config.credits
    if (!credits) throw fail('billing draws from credit, which is off')
    const depositAtomic = deposit === undefined ? credits.topUp.suggested : atomic(deposit, 'deposit')
    if (depositAtomic < credits.topUp.min || depositAtomic > credits.topUp.max) {
      throw fail(
        `deposit is $${formatMoney(depositAtomic, decimals)}: give an amount between credits.topUp.min ($${formatMoney(credits.topUp.min, decimals)}) and max ($${formatMoney(credits.topUp.max, decimals)})`,
      )
    }
    // A deposit that cannot pay the connect and one unit would be settled, then refused.
    const least = fixed + cost(1)
    if (depositAtomic < least) {
      throw fail(
        `deposit is $${formatMoney(depositAtomic, decimals)}, less than the connect price and one ${unit} ($${formatMoney(least, decimals)}): give a deposit of at least that`,
      )
    }
    return {
      paywall,
      fixed,
      billing: {
        unit,
        unitPrice,
        block: block > 0n ? block : 1n,
        warnBelow: warnBelow === undefined ? cost(defaults[unit].warn) : atomic(warnBelow, 'warnBelow'),
        deposit: formatMoney(depositAtomic, decimals),
      },
    }
  } catch (error) {
    void paywall.close()
    throw error
  }
}
