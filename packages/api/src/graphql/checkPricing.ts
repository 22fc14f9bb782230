import { X402Error } from '@402x/core'
import type { GraphQLObjectType, GraphQLSchema } from 'graphql'
import type { ResolvedPricing } from './resolvePricing.js'

const priceable = new Set(['GraphQLObjectType', 'GraphQLInterfaceType'])
const tagOf = (type: unknown) => (type as { [Symbol.toStringTag]?: string } | undefined)?.[Symbol.toStringTag]

/**
 * Checks that every type and field the pricing names is in the schema, and that a field's own
 * multipliers are its arguments: a misspelt price would otherwise charge nothing, silently.
 *
 * @example
 * checkPricing(resolvePricing({ Query: { usr: 0.001 } }, [], 6), schema)
 * // throws: x402GraphQL(): pricing names Query.usr, but Query has no field usr …
 */
export function checkPricing(pricing: ResolvedPricing, schema: GraphQLSchema): void {
  const fail = (message: string, coordinate: string): never => {
    throw new X402Error('invalid_config', {
      message: `x402GraphQL(): ${message}`,
      details: { option: 'pricing', coordinate },
    })
  }
  for (const coordinate of pricing.coordinates) {
    const [typeName = '', fieldName] = coordinate.split('.')
    const type = schema.getType(typeName)
    if (!type)
      fail(`pricing names ${coordinate}, but the schema has no type ${typeName}: check its spelling`, coordinate)
    if (!priceable.has(tagOf(type) ?? '')) {
      fail(
        `pricing names ${coordinate}, but ${typeName} is not an object or interface type: price the fields that return it, or its member types`,
        coordinate,
      )
    }
    if (fieldName === undefined) continue
    const field = (type as GraphQLObjectType).getFields()[fieldName]
    if (!field) {
      const known = Object.keys((type as GraphQLObjectType).getFields()).join(', ')
      fail(`pricing names ${coordinate}, but ${typeName} has no field ${fieldName} (it has ${known})`, coordinate)
    }
    const priced = pricing.fields.get(coordinate)
    if (priced && priced.multipliers !== pricing.multipliers) {
      for (const arg of priced.multipliers) {
        if (!field?.args.some((a) => a.name === arg)) {
          fail(`pricing["${coordinate}"].multiplier names ${arg}, but ${coordinate} has no such argument`, coordinate)
        }
      }
    }
  }
}
