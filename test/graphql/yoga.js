// GraphQL Yoga servers for these tests, in JavaScript: graphql-yoga's typings pull in the
// DOM library (through @whatwg-node/fetch), which would change the repository's global
// types. Its types are checked in the docs' own program (test/docs), which has the DOM.
import { createServer } from 'node:http'
import { createSchema, createYoga } from 'graphql-yoga'

/** A Yoga server on Node's http, with these plugins; `dispose` closes them (the paywall). */
export function yogaServer({ typeDefs, resolvers, plugins, batching = false }) {
  const yoga = createYoga({ schema: createSchema({ typeDefs, resolvers }), plugins, batching, logging: false })
  return { server: createServer(yoga), dispose: () => yoga.dispose() }
}
