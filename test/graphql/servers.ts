import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server'
import { startStandaloneServer } from '@apollo/server/standalone'
import { type X402GraphQLOptions, x402GraphQL } from '402x-api'
import { close, listen } from '../helpers/stack.js'
import { yogaServer } from './yoga.js'

/** The schema both servers serve in these tests. */
export const typeDefs = /* GraphQL */ `
  type User { id: ID! name: String email: String }
  type Post { id: ID! title: String }
  type Query {
    user(id: ID!): User
    posts(first: Int): [Post!]!
    boom: String
    hello: String
  }
  type Mutation { createPost(title: String!): Post }
`

export const resolvers = {
  Query: {
    user: (_: unknown, { id }: { id: string }) => ({ id, name: `user ${id}` }),
    posts: (_: unknown, { first }: { first?: number }) =>
      Array.from({ length: first ?? 3 }, (_, i) => ({ id: String(i), title: `post ${i}` })),
    boom: () => {
      throw new Error('boom: the resolver failed')
    },
    hello: () => 'free',
  },
  User: {
    email: ({ id }: { id: string }) => {
      if (id === 'broken') throw new Error('no email for this user')
      return `${id}@example.com`
    },
  },
  Mutation: { createPost: (_: unknown, { title }: { title: string }) => ({ id: 'new', title }) },
}

/** The pricing both servers use (the seed's, with a field price and a multiplier). */
export const pricing = {
  Query: { user: 0.001, posts: 0.005, boom: 0.002 },
  Mutation: { createPost: 0.01 },
  'User.email': 0.0005,
}

export type GraphQLServer = {
  name: 'Apollo' | 'Yoga'
  url: string
  plugin: ReturnType<typeof x402GraphQL>
  stop(): Promise<void>
}

/** Apollo Server 5 (standalone), batching on, with the plugin (then `more` plugins), on `served` resolvers. */
export async function startApollo(
  options: X402GraphQLOptions | undefined,
  more: ApolloServerPlugin[] = [],
  served: typeof resolvers = resolvers,
): Promise<GraphQLServer> {
  const plugin = options && x402GraphQL(options)
  const server = new ApolloServer({
    typeDefs,
    resolvers: served,
    plugins: plugin ? [plugin, ...more] : more,
    allowBatchedHttpRequests: true,
  })
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } })
  return {
    name: 'Apollo',
    url: `${url}graphql`,
    plugin: plugin as GraphQLServer['plugin'],
    stop: () => server.stop(),
  }
}

/** GraphQL Yoga on Node's http, batching on, with the same plugin (then `more` plugins), on `served` resolvers. */
export async function startYoga(
  options: X402GraphQLOptions | undefined,
  more: unknown[] = [],
  served: typeof resolvers = resolvers,
): Promise<GraphQLServer> {
  const plugin = options && x402GraphQL(options)
  const plugins = plugin ? [plugin, ...more] : more
  const { server, dispose } = yogaServer({ typeDefs, resolvers: served, plugins, batching: true })
  const url = await listen(server)
  return {
    name: 'Yoga',
    url: `${url}/graphql`,
    plugin: plugin as GraphQLServer['plugin'],
    async stop() {
      await close(server)
      await dispose()
    },
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a GraphQL answer (or a batch of them) as JSON.
export type Answer = any

/** POSTs a GraphQL request (or a batch) as JSON; the answer and its parsed body. */
export async function gql(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { response, body: (await response.json()) as Answer }
}

/** The first requirements of a 402's `PAYMENT-REQUIRED`; throws when there is none. */
export const requirementsOf = (response: Response) => {
  const decoded = decodeHeader(response.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED (status ${response.status})`)
  return decoded.value.accepts[0] as PaymentRequirements
}

/** A funded buyer of the local chain. */
export type Buyer = { address: `0x${string}`; privateKey: `0x${string}` }
