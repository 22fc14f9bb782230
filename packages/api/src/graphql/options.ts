import { type OptionShape, rule } from '@402x/core'
import { commonRules, routeRules } from '../config/paywallOptionRules.js'
import type { CommonOptions, Price, RouteOptions } from '../paywall/types.js'

/**
 * The price of one field: dollars, or dollars with the arguments that say how many items
 * it returns (`{ price: 0.001, multiplier: 'first' }`), which replace the global
 * `multipliers` for this field.
 */
export type FieldPrice = Price | { price: Price; multiplier?: string | string[] }

/**
 * What each part of a schema costs, in dollars:
 * - `Query: { user: 0.001 }`: fields of a type (`Query`, `Mutation`, any object or interface);
 * - `'User.email': 0.0005`: one field, by its coordinate;
 * - `User: 0.0001`: every object of a type that an operation selects.
 */
export type GraphQLPricing = Record<string, Price | Record<string, FieldPrice>>

/** Options of {@link x402GraphQL}. */
export type X402GraphQLOptions = Omit<CommonOptions, 'errors' | 'trackingHeaders' | 'discovery'> &
  Pick<RouteOptions, 'description' | 'maxTimeoutSeconds' | 'nonceExpiry' | 'accept'> & {
    /** What the schema's fields and types cost (see {@link GraphQLPricing}). */
    pricing: GraphQLPricing
    /**
     * Arguments that say how many items a field returns (`['first', 'limit']`): the field's
     * price and everything selected under it are multiplied by their value. @default []
     */
    multipliers?: string[]
    /**
     * The most one operation may cost, in dollars: a dearer one is refused before it runs
     * (`MAX_PRICE_EXCEEDED`, nothing asked or charged). @default no limit
     */
    maxPrice?: Price
    /**
     * The path the GraphQL endpoint is served at, for the resource URL in the 402 and the
     * ledger (Apollo does not tell its plugins). Yoga's own request URL is used there.
     * @default '/graphql'
     */
    path?: string
  }

const price = rule.either('a price in dollars: 0.01, "0.01" or "$0.01"', rule.number(), rule.string())
const names = rule.array(rule.string(), "an array of argument names, e.g. ['first', 'limit']")

/** Every key `x402GraphQL()` takes (the pricing table is checked by resolvePricing). */
export const graphqlRules: OptionShape = {
  ...Object.fromEntries(
    Object.entries(commonRules).filter(([key]) => !['errors', 'trackingHeaders', 'discovery'].includes(key)),
  ),
  description: routeRules.description,
  maxTimeoutSeconds: routeRules.maxTimeoutSeconds,
  nonceExpiry: routeRules.nonceExpiry,
  accept: routeRules.accept,
  pricing: {
    expect: "an object: { Query: { user: 0.001 }, 'User.email': 0.0005 }",
    test: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  },
  multipliers: names,
  maxPrice: price,
  path: rule.string('a path, e.g. "/graphql"'),
}
