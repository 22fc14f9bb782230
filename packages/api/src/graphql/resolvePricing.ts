import { parseMoney, X402Error } from '@402x/core'
import { dollars, toPlain } from '../paywall/dollars.js'
import type { Price } from '../paywall/types.js'
import type { FieldPrice, GraphQLPricing } from './options.js'

/** One priced field: atomic units, and the arguments that multiply it. */
export type PricedField = { amount: bigint; multipliers: readonly string[] }

/** A pricing table in atomic units, as the operation walk reads it. */
export type ResolvedPricing = {
  /** By coordinate, `Type.field`. */
  fields: ReadonlyMap<string, PricedField>
  /** Per object of a type selected. */
  types: ReadonlyMap<string, bigint>
  /** Where the table names them, for the schema check: `Type` or `Type.field`. */
  coordinates: readonly string[]
  /** The multiplying arguments of fields that do not name their own. */
  multipliers: readonly string[]
}

const name = /^[_A-Za-z][_0-9A-Za-z]*$/

const fail = (message: string, option = 'pricing'): never => {
  throw new X402Error('invalid_config', { message: `x402GraphQL(): ${message}`, details: { option } })
}

/** Dollars to atomic units, with the option's name in the error. */
export function atomic(price: Price, decimals: number, what: string): bigint {
  if (typeof price !== 'number' && typeof price !== 'string') {
    return fail(`${what} is ${JSON.stringify(price)}: give dollars, e.g. 0.001`)
  }
  const amount = parseMoney(typeof price === 'number' ? toPlain(price) : dollars(price), { decimals, name: what })
  if (amount < 0n) fail(`${what} is negative: give dollars of 0 or more`)
  return amount
}

/**
 * Checks and converts `pricing` once, at start-up: names that are GraphQL names, prices that
 * are dollars, multipliers that are argument names. Whether the names exist in the schema is
 * checked against it (checkPricing.ts) when the server gives its schema.
 *
 * @example
 * resolvePricing({ Query: { user: 0.001 }, 'User.email': 0.0005 }, ['first'], 6)
 */
export function resolvePricing(pricing: GraphQLPricing, multipliers: readonly string[], decimals: number) {
  const fields = new Map<string, PricedField>()
  const types = new Map<string, bigint>()
  const coordinates: string[] = []
  const names = (list: unknown, where: string): string[] => {
    const all = typeof list === 'string' ? [list] : list
    if (!Array.isArray(all) || !all.every((n) => typeof n === 'string' && name.test(n))) {
      return fail(`${where} is ${JSON.stringify(list)}: give an argument name or an array of them, e.g. ['first']`)
    }
    return all
  }
  const global = names(multipliers, 'multipliers')
  const field = (type: string, fieldName: string, value: FieldPrice) => {
    const coordinate = `${type}.${fieldName}`
    if (!name.test(fieldName)) fail(`"${coordinate}" is not a field: give Type.field, e.g. 'User.email'`)
    if (fields.has(coordinate)) fail(`"${coordinate}" is priced twice: give it once`)
    const priced: PricedField =
      typeof value === 'object' && value !== null
        ? {
            amount: atomic(value.price, decimals, `pricing["${coordinate}"].price`),
            multipliers:
              value.multiplier === undefined ? global : names(value.multiplier, `pricing["${coordinate}"].multiplier`),
          }
        : { amount: atomic(value, decimals, `pricing["${coordinate}"]`), multipliers: global }
    if (typeof value === 'object' && value !== null) {
      const extra = Object.keys(value).filter((k) => k !== 'price' && k !== 'multiplier')
      if (extra.length) fail(`pricing["${coordinate}"] has ${extra.join(', ')}: a field takes { price, multiplier }`)
    }
    fields.set(coordinate, priced)
    coordinates.push(coordinate)
  }
  if (typeof pricing !== 'object' || pricing === null || Array.isArray(pricing)) {
    return fail("pricing is required: { Query: { user: 0.001 }, 'User.email': 0.0005 }")
  }
  for (const [key, value] of Object.entries(pricing)) {
    const dot = key.indexOf('.')
    if (dot >= 0) {
      field(key.slice(0, dot), key.slice(dot + 1), value as FieldPrice)
      if (!name.test(key.slice(0, dot))) fail(`"${key}" is not a field: give Type.field, e.g. 'User.email'`)
      continue
    }
    if (!name.test(key)) fail(`"${key}" is not a type name: give Type or Type.field`)
    if (typeof value === 'object' && value !== null) {
      for (const [fieldName, fieldValue] of Object.entries(value)) field(key, fieldName, fieldValue)
      continue
    }
    types.set(key, atomic(value, decimals, `pricing.${key}`))
    coordinates.push(key)
  }
  return { fields, types, coordinates, multipliers: global } satisfies ResolvedPricing
}
