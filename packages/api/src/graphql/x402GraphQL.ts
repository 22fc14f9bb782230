import type { Paywall } from '../paywall/createPaywall.js'
import { apolloHooks } from './apolloHooks.js'
import { createGate } from './createGate.js'
import type { X402GraphQLOptions } from './options.js'
import { yogaHooks } from './yogaHooks.js'

/**
 * One plugin for both servers: Apollo Server reads `serverWillStart`/`requestDidStart`,
 * GraphQL Yoga (envelop) reads `onExecute`/`onSubscribe`; each ignores the other's hooks.
 */
export type X402GraphQLPlugin = ReturnType<typeof apolloHooks> &
  ReturnType<typeof yogaHooks> & {
    /** The paywall behind it (events, `credits.grant`, `reconcile`, `close`). */
    paywall: Paywall
  }

/**
 * Per-field pricing for GraphQL: a plugin for Apollo Server and for GraphQL Yoga. Each
 * operation is priced from its parsed document before it runs, paid with x402 or a credit
 * token through the same paywall as REST, settled after it ran, and charged nothing when it
 * errored entirely (docs/graphql.md).
 *
 * @example
 * const server = new ApolloServer({
 *   typeDefs,
 *   resolvers,
 *   plugins: [x402GraphQL({ pricing: { Query: { user: 0.001, posts: 0.005 }, Mutation: { createPost: 0.01 } } })],
 * })
 * // GraphQL Yoga: createYoga({ schema, plugins: [x402GraphQL({ pricing })] })
 */
export function x402GraphQL(options: X402GraphQLOptions): X402GraphQLPlugin {
  const gate = createGate(options)
  return { ...apolloHooks(gate), ...yogaHooks(gate), paywall: gate.paywall }
}
