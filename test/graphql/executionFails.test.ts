import type { ApolloServerPlugin } from '@apollo/server'
import type { RequestEvent } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Buyer, type GraphQLServer, gql, pricing, requirementsOf, startApollo, startYoga } from './servers.js'

// A payment held for an operation whose execution fails outside its own resolvers (the
// execution function throws, a plugin fails) is released, charged nothing, and traced
// (ledger row `released`, a `request` event and log line with reason `execution_failed`), on
// real Yoga and Apollo Server 5 servers and a real anvil chain. The operation named `Fail`
// fails: on Yoga a plugin after x402GraphQL replaces the execution function with one that
// throws; on Apollo a plugin's `executionDidStart` throws.
let stack: Stack
const servers: GraphQLServer[] = []
const events = new Map<GraphQLServer, RequestEvent[]>()

const failingYoga = {
  onExecute({ args, setExecuteFn }: { args: { operationName?: string }; setExecuteFn(fn: () => never): void }) {
    if (args.operationName === 'Fail') {
      setExecuteFn(() => {
        throw new Error('the schema failed')
      })
    }
  },
}
const failingApollo: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async executionDidStart(rc) {
        if (rc.operationName === 'Fail') throw new Error('a plugin failed')
      },
    }
  },
}

beforeAll(async () => {
  stack = await startStack()
  servers.push(await startApollo({ ...stack.paywall(), pricing }, [failingApollo]))
  servers.push(await startYoga({ ...stack.paywall(), pricing }, [failingYoga]))
  for (const server of servers) {
    const seen: RequestEvent[] = []
    server.plugin.paywall.events.on('request', (e) => seen.push(e))
    events.set(server, seen)
  }
}, 60_000)

afterAll(async () => {
  for (const server of servers) await server.stop()
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as Buyer
const rowsOf = async (server: GraphQLServer, payer: Buyer) =>
  (await server.plugin.paywall.config.ledger.listByState(['verified', 'settled', 'released'], Date.now() + 60_000))
    .filter((row) => row.payer.toLowerCase() === payer.address.toLowerCase())
    .map((row) => [row.state, row.amount])

/** Waits (at most 5 s) for `check` to hold: a `request` event is told after the answer. */
async function eventually(check: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('not within 5 s')
}

const fail = { query: 'query Fail { user(id: "1") { name } }', operationName: 'Fail' }
const ok = { query: 'query Ok { user(id: "2") { name } }', operationName: 'Ok' }

describe.each([0, 1])('an execution that fails, on server %i', (index) => {
  const server = () => servers[index] as GraphQLServer
  const payer = (n: number) => buyer(index * 3 + n)

  it('releases the exact payment it held: nothing settled, traced, and the same payment pays a later operation', async () => {
    const payment = signedPayment(payer(0), requirementsOf((await gql(server().url, fail)).response))
    const before = await stack.chain.balanceOf(payer(0).address)
    const failed = await gql(server().url, fail, { 'payment-signature': payment })
    expect(failed.body.errors.length).toBeGreaterThan(0)
    expect(failed.body.data ?? null).toBeNull()
    expect(failed.response.headers.get('payment-response')).toBeNull()
    expect(await rowsOf(server(), payer(0))).toEqual([['released', '1000']])
    await eventually(() =>
      (events.get(server()) ?? []).some(
        (e) => e.payer?.toLowerCase() === payer(0).address.toLowerCase() && e.reason === 'execution_failed',
      ),
    )
    const told = (events.get(server()) ?? []).find((e) => e.reason === 'execution_failed')
    expect(told).toMatchObject({ status: 500, outcome: 'error', amount: 0n })
    // The lock is gone and nothing was used on chain: the same payment pays a later operation.
    const paid = await gql(server().url, ok, { 'payment-signature': payment })
    expect(paid.response.status).toBe(200)
    expect(paid.body.data).toEqual({ user: { name: 'user 2' } })
    expect(await stack.chain.balanceOf(payer(0).address)).toBe(before - 1_000n)
  })

  it('releases the credit it held: the balance is whole', async () => {
    const credits = server().plugin.paywall.credits!
    const { token } = await credits.grant({ amount: 0.01 })
    const auth = { authorization: `Bearer ${token}` }
    const failed = await gql(server().url, fail, auth)
    expect(failed.body.data ?? null).toBeNull()
    expect(await credits.balance(token as string)).toEqual({ available: '0.01', reserved: '0' })
    await gql(server().url, ok, auth)
    expect(await credits.balance(token as string)).toMatchObject({ available: '0.009' })
  })
})

describe('an execution that fails in a batch paid as one', () => {
  it('on Yoga: the failed operation is given back as credit, the other one is charged', async () => {
    const yoga = servers[1] as GraphQLServer
    const who = buyer(5)
    const payment = signedPayment(who, requirementsOf((await gql(yoga.url, [ok, fail])).response))
    const before = await stack.chain.balanceOf(who.address)
    const { response, body } = await gql(yoga.url, [ok, fail], { 'payment-signature': payment })
    expect(body[0].data).toEqual({ user: { name: 'user 2' } })
    expect(body[0].extensions.x402).toEqual({ price: '0.001', charged: '0.001' })
    expect(body[1].data ?? null).toBeNull()
    expect(body[1].errors.length).toBeGreaterThan(0)
    expect(await stack.chain.balanceOf(who.address)).toBe(before - 2_000n)
    expect(await rowsOf(yoga, who)).toEqual([['settled', '2000']])
    // Yoga answers the failed operation with its own error result: what the batch gave back
    // is on the HTTP answer, as the new credit account's token.
    const token = response.headers.get('x-402x-credit-token')
    expect(token).toMatch(/^x402c_/)
    expect(await yoga.plugin.paywall.credits!.balance(token as string)).toMatchObject({ available: '0.001' })
  })

  it('on Apollo: the server answers the whole batch 500, so nothing of it is charged', async () => {
    const apollo = servers[0] as GraphQLServer
    const who = buyer(2)
    const payment = signedPayment(who, requirementsOf((await gql(apollo.url, [ok, fail])).response))
    const before = await stack.chain.balanceOf(who.address)
    const { response } = await gql(apollo.url, [ok, fail], { 'payment-signature': payment })
    expect(response.status).toBe(500)
    expect(response.headers.get('payment-response')).toBeNull()
    expect(await rowsOf(apollo, who)).toEqual([['released', '2000']])
    expect(await stack.chain.balanceOf(who.address)).toBe(before)
  })
})
