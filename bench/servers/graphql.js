// GraphQL section: Apollo Server 5 or GraphQL Yoga (`config.server`) on Node's http, the same
// schema and resolvers, with no plugin (`config.paywall` false) or with x402GraphQL pricing
// the operation, paid from a credit token this child grants itself and sends with `ready`.
// Credit-funded operations touch neither the chain nor the facilitator.
import { createServer } from 'node:http'
import { ApolloServer, HeaderMap } from '@apollo/server'
import { createSchema, createYoga } from 'graphql-yoga'
import { config, listen } from './common.js'

const typeDefs = /* GraphQL */ `
  type User { id: ID! name: String email: String }
  type Post { id: ID! title: String }
  type Query { user(id: ID!): User posts(first: Int): [Post!]! }
`
const resolvers = {
  Query: {
    user: (_, { id }) => ({ id, name: `user ${id}`, email: `${id}@example.com` }),
    posts: (_, { first }) => Array.from({ length: first ?? 3 }, (_, i) => ({ id: String(i), title: `post ${i}` })),
  },
}

let plugin
if (config.paywall) {
  const { x402GraphQL } = await import('402x-api')
  plugin = x402GraphQL({
    pricing: { Query: { user: 0.00001, posts: 0.00001 }, 'User.email': 0.000001 },
    multipliers: ['first'],
    // Base Sepolia's USDC; a facilitator that is never called on the credit path.
    payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    network: 'eip155:84532',
    facilitator: 'http://127.0.0.1:9',
    ledger: config.ledger,
    reconcileIntervalMs: 0,
  })
}
const token = plugin ? (await plugin.paywall.credits.grant({ amount: 100_000 })).token : undefined
const onClose = async () => plugin?.paywall.close()

if (config.server === 'yoga') {
  const yoga = createYoga({
    schema: createSchema({ typeDefs, resolvers }),
    plugins: plugin ? [plugin] : [],
    logging: false,
  })
  listen(createServer(yoga), onClose, { token })
} else {
  // Apollo's own Node handler (what startStandaloneServer does), on a server `listen` can manage.
  const apollo = new ApolloServer({ typeDefs, resolvers, plugins: plugin ? [plugin] : [] })
  await apollo.start()
  const server = createServer(async (req, res) => {
    const headers = new HeaderMap()
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value)
    const url = new URL(req.url ?? '/', 'http://localhost')
    const answer = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: undefined },
      context: async () => ({}),
    })
    for (const [name, value] of answer.headers) res.setHeader(name, value)
    res.statusCode = answer.status ?? 200
    if (answer.body.kind === 'complete') res.end(answer.body.string)
    else {
      for await (const chunk of answer.body.asyncIterator) res.write(chunk)
      res.end()
    }
  })
  listen(
    server,
    async () => {
      await apollo.stop()
      await onClose()
    },
    { token },
  )
}
