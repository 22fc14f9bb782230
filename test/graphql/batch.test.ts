import { createX402Client } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Buyer, type GraphQLServer, gql, pricing, requirementsOf, startApollo, startYoga } from './servers.js'

// A batch of GraphQL operations paid with one x402 `exact` payment of their sum, on real
// Apollo Server 5 and GraphQL Yoga servers and a real anvil chain: one challenge for the sum,
// verified before any operation runs, settled once after all ran (or released when none was
// served), the price of the operations that errored entirely given back as credit (or on
// chain), replays refused, maxPrice on the sum, and credit turned off.
let stack: Stack
const servers: GraphQLServer[] = []
const extra: GraphQLServer[] = []

beforeAll(async () => {
  stack = await startStack()
  const options = () => ({ ...stack.paywall(), pricing, multipliers: ['first'], maxPrice: 0.1 })
  servers.push(await startApollo(options()))
  servers.push(await startYoga(options()))
}, 60_000)

afterAll(async () => {
  for (const server of [...servers, ...extra]) await server.stop()
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as Buyer
const rows = (server: GraphQLServer) =>
  server.plugin.paywall.config.ledger.listByState(['verified', 'settled', 'released', 'pending'], Date.now() + 60_000)
const rowsOf = async (server: GraphQLServer, payer: Buyer) =>
  (await rows(server)).filter((row) => row.payer.toLowerCase() === payer.address.toLowerCase())

describe.each([0, 1])('a batch paid as one, on server %i', (index) => {
  const server = () => servers[index] as GraphQLServer
  // Buyers 0-2 for Apollo, 3-5 for Yoga.
  const payer = (n: number) => buyer(index * 3 + n)

  it('answers an unpaid batch 402 with one challenge for the sum; each priced operation names its price and the sum', async () => {
    const batch = [
      { query: '{ user(id: "1") { name } }' },
      { query: '{ posts(first: 2) { id } }' },
      { query: '{ hello }' },
    ]
    const { response, body } = await gql(server().url, batch)
    expect(response.status).toBe(402)
    expect(requirementsOf(response).amount).toBe('11000')
    const [user, posts, hello] = body
    expect(user.errors[0].extensions).toMatchObject({ code: 'PAYMENT_REQUIRED', price: '0.001', batchPrice: '0.011' })
    expect(posts.errors[0].extensions).toMatchObject({ price: '0.01', batchPrice: '0.011' })
    expect(user.errors[0].extensions.paymentRequired.accepts[0].amount).toBe('11000')
    expect(user.errors[0].message).toMatch(/this batch's priced operations cost \$0\.011 together: pay the sum/)
    expect(user.data ?? null).toBeNull()
    expect(hello.data).toEqual({ hello: 'free' })
  })

  it('is paid by 402x-client with one payment of the sum: settled once, on chain, each operation saying what it cost', async () => {
    const client = createX402Client({
      wallet: payer(0).privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
      budget: { maxPerRequest: 0.05 },
    })
    const before = await stack.chain.balanceOf(payer(0).address)
    const batch = [
      { query: '{ user(id: "2") { name email } }' },
      { query: 'mutation { createPost(title: "b") { id } }' },
    ]
    const answer = await client.post(server().url, batch)
    expect(answer.status).toBe(200)
    const [user, post] = answer.data as { data: unknown; errors?: unknown; extensions: { x402: unknown } }[]
    expect(user?.data).toEqual({ user: { name: 'user 2', email: '2@example.com' } })
    expect(post?.data).toEqual({ createPost: { id: 'new' } })
    expect(user?.extensions.x402).toEqual({ price: '0.0015', charged: '0.0015' })
    expect(post?.extensions.x402).toEqual({ price: '0.01', charged: '0.01' })
    expect(answer.receipt).toMatchObject({ amount: 11_500n, status: 'settled' })
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before - 11_500n)
    const settled = (await rowsOf(server(), payer(0))).filter((row) => row.state === 'settled')
    expect(settled.map((row) => row.amount)).toEqual(['11500'])
  })

  it('gives the price of an operation that errored entirely back as credit: its token and amount in its extensions', async () => {
    const batch = [{ query: '{ user(id: "3") { name } }' }, { query: '{ boom }' }, { query: '{ hello }' }]
    const unpaid = await gql(server().url, batch)
    const payment = signedPayment(payer(1), requirementsOf(unpaid.response))
    const refunded: bigint[] = []
    const onRefund = (e: { amount: bigint }) => refunded.push(e.amount)
    server().plugin.paywall.events.on('refunded', onRefund)
    const before = await stack.chain.balanceOf(payer(1).address)
    const { response, body } = await gql(server().url, batch, { 'payment-signature': payment })
    server().plugin.paywall.events.off('refunded', onRefund)
    expect(response.status).toBe(200)
    expect(response.headers.get('payment-response')).toBeTruthy()
    const [user, boom, hello] = body
    expect(user.data).toEqual({ user: { name: 'user 3' } })
    expect(user.extensions.x402).toEqual({ price: '0.001', charged: '0.001' })
    expect(boom.data).toEqual({ boom: null })
    expect(boom.errors[0].path).toEqual(['boom'])
    const token = boom.extensions.x402.creditToken
    expect(boom.extensions.x402).toEqual({
      price: '0.002',
      charged: '0',
      returned: '0.002',
      refund: 'credit',
      creditToken: token,
      balance: '0.002',
    })
    expect(token).toMatch(/^x402c_/)
    expect(response.headers.get('x-402x-credit-token')).toBe(token)
    expect(hello.data).toEqual({ hello: 'free' })
    expect(hello.extensions).toBeUndefined()
    // The whole payment settled on chain; the ledger has it, and the credit it gave back.
    expect(await stack.chain.balanceOf(payer(1).address)).toBe(before - 3_000n)
    const [row] = (await rowsOf(server(), payer(1))).filter((r) => r.state === 'settled')
    expect(row?.amount).toBe('3000')
    const credits = server().plugin.paywall.credits!
    expect(await credits.balance(token)).toMatchObject({ available: '0.002' })
    const service = server().plugin.paywall.config.credits!.service
    const entries = await service.entries((await service.accountFor(token)) as string, 10)
    expect(entries.map((e) => [e.kind, e.amount, e.ref])).toContainEqual(['top_up', 2_000n, row?.id])
    expect(refunded).toEqual([2_000n])
    // The credit pays a later operation.
    const paid = await gql(server().url, { query: '{ user(id: "4") { name } }' }, { authorization: `Bearer ${token}` })
    expect(paid.body.data.user.name).toBe('user 4')
    expect(await credits.balance(token)).toMatchObject({ available: '0.001' })
  })

  it('releases a batch whose priced operations all errored entirely: nothing settled, nothing given back', async () => {
    const batch = [{ query: '{ boom }' }, { query: '{ again: boom }' }]
    const unpaid = await gql(server().url, batch)
    expect(requirementsOf(unpaid.response).amount).toBe('4000')
    const payment = signedPayment(payer(2), requirementsOf(unpaid.response))
    const before = await stack.chain.balanceOf(payer(2).address)
    const failed = await gql(server().url, batch, { 'payment-signature': payment })
    expect(failed.response.headers.get('payment-response')).toBeNull()
    expect(failed.response.headers.get('x-402x-credit-token')).toBeNull()
    expect(failed.body.map((one: { extensions: { x402: unknown } }) => one.extensions.x402)).toEqual([
      { price: '0.002', charged: '0' },
      { price: '0.002', charged: '0' },
    ])
    expect((await rowsOf(server(), payer(2))).map((row) => [row.state, row.amount])).toEqual([['released', '4000']])
    expect(await stack.chain.balanceOf(payer(2).address)).toBe(before)
  })

  it('pays one batch once: the payment presented again (another batch of the same sum) is refused before anything runs', async () => {
    const first = [{ query: '{ user(id: "5") { name } }' }, { query: '{ user(id: "6") { name } }' }]
    const second = [{ query: '{ user(id: "7") { name } }' }, { query: '{ user(id: "8") { name } }' }]
    const payment = signedPayment(payer(0), requirementsOf((await gql(server().url, first)).response))
    const before = await stack.chain.balanceOf(payer(0).address)
    const paid = await gql(server().url, first, { 'payment-signature': payment })
    expect(paid.body.map((one: { data: unknown }) => one.data)).toEqual([
      { user: { name: 'user 5' } },
      { user: { name: 'user 6' } },
    ])
    for (const batch of [first, second]) {
      const replay = await gql(server().url, batch, { 'payment-signature': payment })
      expect(replay.response.status).toBe(402)
      for (const one of replay.body) {
        expect(one.errors[0].extensions).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
        expect(one.data ?? null).toBeNull()
      }
    }
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before - 2_000n)
  })

  it("does not let one operation's price pay a batch: a payment of one operation's price is refused for the sum", async () => {
    const one = { query: '{ user(id: "9") { name } }' }
    const payment = signedPayment(payer(1), requirementsOf((await gql(server().url, one)).response))
    const before = await stack.chain.balanceOf(payer(1).address)
    const { response, body } = await gql(server().url, [one, one], { 'payment-signature': payment })
    expect(response.status).toBe(402)
    expect(requirementsOf(response).amount).toBe('2000')
    for (const op of body) {
      expect(op.errors[0].extensions.code).toBe('PAYMENT_REQUIRED')
      expect(op.data ?? null).toBeNull()
    }
    expect(await stack.chain.balanceOf(payer(1).address)).toBe(before)
  })

  it('refuses a batch whose sum is above maxPrice before anything runs, whatever pays it', async () => {
    // Each operation is below maxPrice ($0.1); the three together are not ($0.105).
    const batch = [
      { query: '{ posts(first: 6) { id } }' },
      { query: '{ posts(first: 6) { id } }' },
      { query: '{ posts(first: 9) { id } }' },
      { query: '{ hello }' },
    ]
    const { token } = await server().plugin.paywall.credits!.grant({ amount: 1 })
    for (const headers of [{}, { authorization: `Bearer ${token}` }]) {
      const { response, body } = await gql(server().url, batch, headers)
      expect(response.status).toBe(400)
      expect(response.headers.get('payment-required')).toBeNull()
      for (const [i, price] of ['0.03', '0.03', '0.045'].entries()) {
        expect(body[i].errors[0].extensions).toMatchObject({ code: 'MAX_PRICE_EXCEEDED', price, batchPrice: '0.105' })
        expect(body[i].data ?? null).toBeNull()
      }
      expect(body[0].errors[0].message).toMatch(/this batch's priced operations cost \$0\.105 together, above/)
      expect(body[3].data).toEqual({ hello: 'free' })
    }
    expect(await server().plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '1' })
  })
})

describe.each(['Apollo', 'Yoga'] as const)('a batch on %s with credit off or refunds on chain', (name) => {
  const start = async (options: Record<string, unknown>) => {
    const server = await (name === 'Apollo' ? startApollo : startYoga)({ ...stack.paywall(), pricing, ...options })
    extra.push(server)
    return server
  }

  it('with credit off, refuses a batch of two priced operations before anything runs, and takes one', async () => {
    const server = await start({ credits: false })
    const two = await gql(server.url, [{ query: '{ user(id: "1") { name } }' }, { query: '{ boom }' }])
    for (const op of two.body) {
      expect(op.errors[0].extensions).toMatchObject({ code: 'BATCH_NOT_PAYABLE', reason: 'batch_not_payable' })
      expect(op.data ?? null).toBeNull()
    }
    expect(two.body[0].errors[0].message).toMatch(/credits: false\): nothing was run or charged/)
    const one = await gql(server.url, [{ query: '{ user(id: "1") { name } }' }, { query: '{ hello }' }])
    expect(one.response.status).toBe(402)
    expect(requirementsOf(one.response).amount).toBe('1000')
  })

  it("with refund: 'onchain', sends the price of an operation that errored entirely back on chain", async () => {
    const server = await start({
      credits: { refund: 'onchain', refundKey: stack.chain.payTo.privateKey, rpcUrl: stack.chain.rpcUrl },
    })
    const who = buyer(name === 'Apollo' ? 0 : 3)
    const batch = [{ query: 'mutation { createPost(title: "c") { id } }' }, { query: '{ boom }' }]
    const payment = signedPayment(who, requirementsOf((await gql(server.url, batch)).response))
    const before = await stack.chain.balanceOf(who.address)
    const { body } = await gql(server.url, batch, { 'payment-signature': payment })
    expect(body[0].data).toEqual({ createPost: { id: 'new' } })
    const back = body[1].extensions.x402
    expect(back).toMatchObject({ price: '0.002', charged: '0', returned: '0.002', refund: 'onchain', balance: '0' })
    expect(back.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await stack.chain.balanceOf(who.address)).toBe(before - 10_000n)
  })
})
