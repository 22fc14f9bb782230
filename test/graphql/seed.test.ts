import { join } from 'node:path'
import { ApolloServer } from '@apollo/server'
import { startStandaloneServer } from '@apollo/server/standalone'
import { x402GraphQL } from '402x-api'
import { createX402Client } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { resolvers, typeDefs } from './servers.js'
import { yogaServer } from './yoga.js'

// The seed's GraphQL sample as written (settings from the environment, as `402x dev` or a
// deployment gives them), on Apollo Server 5, and the same call on GraphQL Yoga.
let stack: Stack
const saved = { ...process.env }

beforeAll(async () => {
  stack = await startStack()
  process.env.X402_PAY_TO = stack.chain.payTo.address
  process.env.X402_NETWORK = stack.chain.network
  process.env.X402_FACILITATOR_URL = stack.facilitatorUrl
  process.env.X402_STATE_DIR = join(stack.dir, 'state')
  process.env.X402_RECONCILE_INTERVAL_MS = '0'
}, 60_000)

afterAll(async () => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
  Object.assign(process.env, saved)
  await stack?.stop()
})

const client = (i: number) =>
  createX402Client({
    wallet: (stack.chain.buyers[i] as { privateKey: `0x${string}` }).privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    budget: { maxPerRequest: 0.05 },
  })

async function check(url: string, buyer: number) {
  const unpaid = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ user(id: "1") { name } posts { title } }' }),
  })
  expect(unpaid.status).toBe(402)
  expect(((await unpaid.json()) as { errors: { extensions: unknown }[] }).errors[0]?.extensions).toMatchObject({
    code: 'PAYMENT_REQUIRED',
    price: '0.006',
  })
  const paid = await client(buyer).post(url, { query: 'mutation { createPost(title: "t") { id } }' })
  expect(paid.status).toBe(200)
  expect(paid.receipt).toMatchObject({ amount: 10_000n, status: 'settled' })
}

describe('the seed GraphQL sample', () => {
  it('runs as written with Apollo Server', async () => {
    const server = new ApolloServer({
      typeDefs,
      resolvers,
      plugins: [
        x402GraphQL({
          pricing: {
            Query: {
              user: 0.001,
              posts: 0.005,
            },
            Mutation: {
              createPost: 0.01,
            },
          },
        }),
      ],
    })
    const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } })
    try {
      await check(url, 0)
    } finally {
      await server.stop()
    }
  })

  it('runs the same call with GraphQL Yoga', async () => {
    const plugin = x402GraphQL({
      pricing: { Query: { user: 0.001, posts: 0.005 }, Mutation: { createPost: 0.01 } },
    })
    const { server, dispose } = yogaServer({ typeDefs, resolvers, plugins: [plugin] })
    try {
      await check(`${await listen(server)}/graphql`, 1)
    } finally {
      await close(server)
      await dispose()
    }
  })

  it('refuses a pricing that names what the schema does not have, at start', async () => {
    const plugin = x402GraphQL({ pricing: { Query: { usr: 0.001 } } })
    const server = new ApolloServer({ typeDefs, resolvers, plugins: [plugin] })
    await expect(server.start()).rejects.toThrow(/pricing names Query\.usr, but Query has no field usr/)
    await plugin.paywall.close()
    expect(() => x402GraphQL({ pricing: {}, multiplier: ['first'] } as never)).toThrow(/`multiplier` is not an option/)
  })
})
