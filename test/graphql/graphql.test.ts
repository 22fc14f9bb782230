import { createX402Client } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { officialPayingFetch } from '../interop/official.js'
import {
  type Answer,
  type Buyer,
  type GraphQLServer,
  gql,
  pricing,
  requirementsOf,
  startApollo,
  startYoga,
} from './servers.js'

// x402GraphQL on real Apollo Server 5 and GraphQL Yoga servers, paid on a real anvil chain
// through the same paywall as REST: the 402 challenge, x402 and credit payments, the
// not-charged rule, batches, the maximum price and replays.
let stack: Stack
const servers: GraphQLServer[] = []

beforeAll(async () => {
  stack = await startStack()
  const options = { ...stack.paywall(), pricing, multipliers: ['first'], maxPrice: 0.1 }
  servers.push(await startApollo(options))
  servers.push(await startYoga({ ...stack.paywall(), pricing, multipliers: ['first'], maxPrice: 0.1 }))
}, 60_000)

afterAll(async () => {
  for (const server of servers) await server.stop()
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as Buyer

const rowsOf = async (server: GraphQLServer, state: 'settled' | 'released') =>
  server.plugin.paywall.config.ledger.listByState([state], Date.now() + 60_000)

describe.each([0, 1])('x402GraphQL on server %i', (index) => {
  const server = () => servers[index] as GraphQLServer
  // Buyers 0-1 for Apollo, 2-3 for Yoga: balances stay each test's own.
  const payer = (n: number) => buyer(index * 2 + n)

  it('answers an unpaid priced operation 402 with its own price, and PAYMENT_REQUIRED with the requirements', async () => {
    const { response, body } = await gql(server().url, { query: '{ user(id: "1") { name email } }' })
    expect(response.status).toBe(402)
    const requirements = requirementsOf(response)
    expect(requirements.amount).toBe('1500')
    const [error] = body.errors
    expect(error.extensions).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'payment_required', price: '0.0015' })
    expect(error.extensions.paymentRequired.accepts[0]).toMatchObject({
      amount: '1500',
      payTo: stack.chain.payTo.address,
    })
    expect(error.extensions.http).toBeUndefined()
    expect(body.data ?? null).toBeNull()
  })

  it('serves free operations and introspection without asking for payment', async () => {
    const free = await gql(server().url, { query: '{ hello __typename }' })
    expect(free.response.status).toBe(200)
    expect(free.body.data).toEqual({ hello: 'free', __typename: 'Query' })
    const schema = await gql(server().url, { query: '{ __schema { queryType { name } } }' })
    expect(schema.body.data.__schema.queryType.name).toBe('Query')
  })

  it('is paid by 402x-client: verified before execution, settled after, on chain', async () => {
    const client = createX402Client({
      wallet: payer(0).privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
      budget: { maxPerRequest: 0.05 },
    })
    const before = await stack.chain.balanceOf(payer(0).address)
    const answer = await client.post(server().url, { query: 'query Top { posts(first: 2) { title } }' })
    expect(answer.status).toBe(200)
    expect(answer.data).toEqual({ data: { posts: [{ title: 'post 0' }, { title: 'post 1' }] } })
    expect(answer.receipt).toMatchObject({ amount: 10_000n, status: 'settled' })
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before - 10_000n)
    const settled = await rowsOf(server(), 'settled')
    expect(
      settled.some((row) => row.payer.toLowerCase() === payer(0).address.toLowerCase() && row.amount === '10000'),
    ).toBe(true)
  })

  it('is paid by the official @x402 fetch client', async () => {
    const paying = officialPayingFetch({ chain: stack.chain, privateKey: payer(1).privateKey })
    const answer = await paying(server().url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: 'mutation { createPost(title: "hi") { id title } }' }),
    })
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ data: { createPost: { id: 'new', title: 'hi' } } })
    expect(answer.headers.get('payment-response')).toBeTruthy()
  })

  it('charges nothing for an operation that errors entirely, and refuses the same payment used again', async () => {
    const query = { query: '{ boom }' }
    const unpaid = await gql(server().url, query)
    const signed = signedPayment(payer(0), requirementsOf(unpaid.response))
    const before = await stack.chain.balanceOf(payer(0).address)
    const failed = await gql(server().url, query, { 'payment-signature': signed })
    expect(failed.body.data).toEqual({ boom: null })
    expect(failed.body.errors[0].path).toEqual(['boom'])
    expect(failed.response.headers.get('payment-response')).toBeNull()
    const released = await rowsOf(server(), 'released')
    expect(
      released.some((row) => row.payer.toLowerCase() === payer(0).address.toLowerCase() && row.amount === '2000'),
    ).toBe(true)
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before)

    // A served payment presented again is refused before anything runs.
    const paidQuery = { query: '{ user(id: "7") { name } }' }
    const challenge = await gql(server().url, paidQuery)
    const payment = signedPayment(payer(0), requirementsOf(challenge.response))
    const paid = await gql(server().url, paidQuery, { 'payment-signature': payment })
    expect(paid.response.status).toBe(200)
    expect(paid.body.data.user.name).toBe('user 7')
    const replay = await gql(server().url, paidQuery, { 'payment-signature': payment })
    expect(replay.response.status).toBe(402)
    expect(replay.body.errors[0].extensions).toMatchObject({
      code: 'PAYMENT_REQUIRED',
      reason: 'invalid_exact_evm_nonce_already_used',
    })
    expect(replay.body.data ?? null).toBeNull()
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before - 1000n)
  })

  it('charges partial errors in full: a priced root field that answered was served', async () => {
    const { token } = await server().plugin.paywall.credits!.grant({ amount: 1 })
    const auth = { authorization: `Bearer ${token}` }
    const partial = await gql(server().url, { query: '{ user(id: "broken") { name email } }' }, auth)
    expect(partial.body.data.user).toEqual({ name: 'user broken', email: null })
    expect(partial.body.errors[0].path).toEqual(['user', 'email'])
    expect(await server().plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '0.9985' })
  })

  it('draws a credit token as REST does: receipts, nothing for a failed operation, 401 for an unknown token', async () => {
    const { token } = await server().plugin.paywall.credits!.grant({ amount: 0.05 })
    const auth = { authorization: `Bearer ${token}` }
    const served = await gql(server().url, { query: '{ user(id: "1") { email } }' }, auth)
    expect(served.response.status).toBe(200)
    expect(served.body.data.user.email).toBe('1@example.com')
    expect(JSON.parse(served.response.headers.get('x-402x-receipt') ?? 'null')).toMatchObject({
      captured: '1500',
      balance: '48500',
    })
    const failed = await gql(server().url, { query: '{ boom }' }, auth)
    expect(failed.body.errors[0].path).toEqual(['boom'])
    expect(await server().plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '0.0485' })
    const unknown = await gql(server().url, { query: '{ boom }' }, { authorization: 'Bearer x402c_not-a-token' })
    expect(unknown.response.status).toBe(401)
    expect(unknown.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'invalid_token' })
    // Too little credit: a 402 for the operation's price.
    const dear = await gql(server().url, { query: '{ posts(first: 10) { id } }' }, auth)
    expect(dear.response.status).toBe(402)
    expect(dear.body.errors[0].extensions).toMatchObject({ code: 'PAYMENT_REQUIRED', reason: 'insufficient_credit' })
  })

  it('prices each operation of a batch', async () => {
    const batch = [
      { query: '{ user(id: "1") { name } }' },
      { query: '{ posts(first: 2) { id } }' },
      { query: '{ hello }' },
    ]
    const unpaid = await gql(server().url, batch)
    const prices = unpaid.body.map((one: Answer) => one.errors?.[0]?.extensions?.price)
    expect(prices).toEqual(['0.001', '0.01', undefined])
    expect(unpaid.body[2].data).toEqual({ hello: 'free' })
    const { token } = await server().plugin.paywall.credits!.grant({ amount: 1 })
    const paid = await gql(server().url, batch, { authorization: `Bearer ${token}` })
    expect(paid.body.map((one: Answer) => one.errors)).toEqual([undefined, undefined, undefined])
    expect(await server().plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '0.989' })
  })

  it('refuses an operation above maxPrice before it runs, asking nothing', async () => {
    const { response, body } = await gql(server().url, { query: '{ posts(first: 1000) { id } }' })
    expect(response.status).toBe(400)
    expect(response.headers.get('payment-required')).toBeNull()
    expect(body.errors[0].extensions).toMatchObject({
      code: 'MAX_PRICE_EXCEEDED',
      reason: 'max_price_exceeded',
      price: '5',
    })
    expect(body.errors[0].message).toMatch(/costs \$5, above the most one operation may cost here \(\$0\.1\)/)
  })

  it('refuses a negative multiplier before it runs, paid or not (a resolver may read -1 as "everything")', async () => {
    const { token } = await server().plugin.paywall.credits!.grant({ amount: 0.05 })
    const query = 'query ($n: Int) { posts(first: $n) { id } }'
    for (const headers of [{}, { authorization: `Bearer ${token}` }]) {
      const { response, body } = await gql(server().url, { query, variables: { n: -1 } }, headers)
      expect(response.status).toBe(400)
      expect(response.headers.get('payment-required')).toBeNull()
      expect(body.data ?? null).toBeNull()
      expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'invalid_multiplier' })
      expect(body.errors[0].message).toMatch(
        /Query\.posts: `first` is -1, .* give a whole number ≥ 0; nothing was run or charged/,
      )
    }
    expect(await server().plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '0.05' })
    // A variable not sent: priced once (posts has no default in the schema), as the resolver's own default serves.
    const notSent = await gql(server().url, { query }, { authorization: `Bearer ${token}` })
    expect(notSent.response.status).toBe(200)
    expect(JSON.parse(notSent.response.headers.get('x-402x-receipt') ?? 'null')).toMatchObject({ captured: '5000' })
  })
})
