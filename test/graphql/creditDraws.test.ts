import type { RequestEvent } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Stack, startStack } from '../helpers/stack.js'
import { type GraphQLServer, gql, pricing, resolvers, startApollo, startYoga } from './servers.js'

// Operations paid from a credit token (the plugin's credit fast path, without the paywall's
// full pipeline): the money stays exact under concurrency, nothing runs without its hold,
// every charge is on the ledger with its receipt and `request` event, and prices that read
// variables are charged for each request's own variables.
let stack: Stack
const servers: GraphQLServer[] = []
/** How many times each priced root field's resolver ran, per server. */
type Runs = { user: number; posts: number }
const runs: [Runs, Runs] = [
  { user: 0, posts: 0 },
  { user: 0, posts: 0 },
]

const counted = (i: 0 | 1): typeof resolvers => ({
  ...resolvers,
  Query: {
    ...resolvers.Query,
    user: (parent: unknown, args: { id: string }) => {
      runs[i].user++
      return resolvers.Query.user(parent, args)
    },
    posts: (parent: unknown, args: { first?: number }) => {
      runs[i].posts++
      return resolvers.Query.posts(parent, args)
    },
  },
})

beforeAll(async () => {
  stack = await startStack()
  servers.push(await startApollo({ ...stack.paywall(), pricing, multipliers: ['first'] }, [], counted(0)))
  servers.push(await startYoga({ ...stack.paywall(), pricing, multipliers: ['first'] }, [], counted(1)))
}, 60_000)

afterAll(async () => {
  for (const server of servers) await server.stop()
  await stack?.stop()
})

/** A request paid by `token`: its status, body and `X-402x-Receipt`. */
async function paid(url: string, body: unknown, token: string) {
  const { response, body: answer } = await gql(url, body, { authorization: `Bearer ${token}` })
  const receipt = response.headers.get('x-402x-receipt')
  return {
    status: response.status,
    body: answer,
    receipt: receipt ? (JSON.parse(receipt) as { captured: string; balance: string }) : undefined,
  }
}

describe.each([0, 1] as const)('credit-paid operations on server %i', (index) => {
  const server = () => servers[index] as GraphQLServer
  const credits = () => server().plugin.paywall.credits as NonNullable<GraphQLServer['plugin']['paywall']['credits']>
  /** The balance the credit store holds on its file (not this process's view of it). */
  const stored = async (account: string) =>
    (await server().plugin.paywall.config.credits?.service.ledger().balance(account))?.available

  it('draws exactly N × price for N concurrent operations, each with its receipt, event and ledger entry', async () => {
    const { token, account } = await credits().grant({ amount: 1 })
    const events: RequestEvent[] = []
    const receipts: bigint[] = []
    const paywall = server().plugin.paywall
    const onRequest = (event: RequestEvent) => {
      if (event.account === account) events.push(event)
    }
    const onReceipt = (receipt: { account: string; captured: bigint }) => {
      if (receipt.account === account) receipts.push(receipt.captured)
    }
    paywall.events.on('request', onRequest)
    paywall.events.on('receipt', onReceipt)
    const ran = runs[index].user
    const n = 40
    try {
      // { user { name email } }: 0.001 + 0.0005 = 1500 atomic units.
      const answers = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          paid(server().url, { query: `{ user(id: "${i}") { name email } }` }, token as string),
        ),
      )
      for (const [i, answer] of answers.entries()) {
        expect(answer.status).toBe(200)
        expect(answer.body.data.user).toEqual({ name: `user ${i}`, email: `${i}@example.com` })
        expect(answer.receipt?.captured).toBe('1500')
      }
      // Each answer's balance is the one left after its own charge: n distinct steps of 1500.
      const balances = answers.map((a) => BigInt(a.receipt?.balance ?? -1)).sort((a, b) => (a < b ? 1 : -1))
      expect(balances).toEqual(Array.from({ length: n }, (_, k) => 1_000_000n - 1500n * BigInt(k + 1)))
      expect(await credits().balance(token as string)).toMatchObject({
        available: String((1_000_000 - n * 1500) / 1e6),
      })
      expect(await stored(account)).toBe(1_000_000n - BigInt(n) * 1500n)
      expect(runs[index].user - ran).toBe(n)
      expect(events).toHaveLength(n)
      expect(events.every((e) => e.outcome === 'credit' && e.amount === 1500n && e.status === 200)).toBe(true)
      expect(receipts).toEqual(Array.from({ length: n }, () => 1500n))
    } finally {
      paywall.events.off('request', onRequest)
      paywall.events.off('receipt', onReceipt)
    }
  })

  it('runs only the operations the credit covers when more ask at once, and charges only those', async () => {
    // 0.01 covers 6 operations of 1500 (9000), not 7.
    const { token, account } = await credits().grant({ amount: 0.01 })
    const ran = runs[index].user
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        paid(server().url, { query: '{ user(id: "1") { name email } }' }, token as string),
      ),
    )
    const served = answers.filter((a) => a.status === 200)
    const refused = answers.filter((a) => a.status === 402)
    expect(served).toHaveLength(6)
    expect(refused).toHaveLength(6)
    for (const answer of refused) {
      expect(answer.body.errors[0].extensions).toMatchObject({
        code: 'PAYMENT_REQUIRED',
        reason: 'insufficient_credit',
      })
      expect(answer.body.data ?? null).toBeNull()
      expect(answer.receipt).toBeUndefined()
    }
    // Nothing ran without its hold: the resolver ran for the 6 served, never for the refused.
    expect(runs[index].user - ran).toBe(6)
    expect(await stored(account)).toBe(1000n)
  })

  it('charges nothing for operations that error entirely, run at once with served ones', async () => {
    const { token, account } = await credits().grant({ amount: 1 })
    const events: RequestEvent[] = []
    const onRequest = (event: RequestEvent) => {
      if (event.account === account) events.push(event)
    }
    server().plugin.paywall.events.on('request', onRequest)
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          paid(server().url, { query: i % 2 ? '{ boom }' : '{ user(id: "2") { name } }' }, token as string),
        ),
      )
      for (const [i, answer] of answers.entries()) {
        if (i % 2) {
          expect(answer.body.errors[0].path).toEqual(['boom'])
          expect(answer.receipt).toBeUndefined()
        } else expect(answer.receipt?.captured).toBe('1000')
      }
      expect(await stored(account)).toBe(1_000_000n - 10n * 1000n)
      expect(await credits().balance(token as string)).toMatchObject({ available: '0.99' })
      // Each is told: the served ones charged, the failed ones released with their reason.
      const failed = events.filter((e) => e.status === 500)
      expect(failed).toHaveLength(10)
      expect(failed.every((e) => e.outcome === 'error' && e.amount === 0n && e.reason === 'operation_failed')).toBe(
        true,
      )
      expect(events.filter((e) => e.outcome === 'credit' && e.amount === 1000n)).toHaveLength(10)
    } finally {
      server().plugin.paywall.events.off('request', onRequest)
    }
  })

  it("charges each request the price of its own variables, the same document's price cached for each", async () => {
    const { token, account } = await credits().grant({ amount: 1 })
    // posts: 0.005 × first; the email (0.0005) only when $mail is true.
    const query =
      'query ($n: Int, $mail: Boolean!) { posts(first: $n) { id } user(id: "3") { email @include(if: $mail) } }'
    const asked: [number | undefined, boolean, string][] = [
      [1, false, '6000'],
      [3, false, '16000'],
      [1, true, '6500'],
      [1, false, '6000'],
      [undefined, true, '6500'],
      [3, true, '16500'],
      [2, false, '11000'],
    ]
    let spent = 0n
    for (const [n, mail, captured] of asked) {
      const variables = n === undefined ? { mail } : { n, mail }
      const answer = await paid(server().url, { query, variables }, token as string)
      expect(answer.status).toBe(200)
      expect(answer.body.data.posts).toHaveLength(n ?? 3)
      expect(answer.receipt?.captured).toBe(captured)
      spent += BigInt(captured)
    }
    expect(await stored(account)).toBe(1_000_000n - spent)
  })
})
