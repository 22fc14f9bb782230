import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Buyer, type GraphQLServer, gql, pricing, requirementsOf, startApollo, startYoga } from './servers.js'

// An operation whose answer the server cannot send in any media type the caller accepts:
// Apollo Server and GraphQL Yoga answer 406 only after execution (after the plugin's
// settle), so x402GraphQL refuses it before anything is held. On real servers and a real
// chain: the credit balance stays whole, the x402 payment is not settled, its nonce not
// moved (the same payment then pays for the answer the caller can read).
let stack: Stack
const servers: GraphQLServer[] = []

beforeAll(async () => {
  stack = await startStack()
  servers.push(await startApollo({ ...stack.paywall(), pricing }))
  servers.push(await startYoga({ ...stack.paywall(), pricing }))
}, 60_000)

afterAll(async () => {
  for (const server of servers) await server.stop()
  await stack?.stop()
})

/** POSTs `body` with exactly these headers (no default Accept); the answer's body as text. */
async function post(url: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { response, text: await response.text() }
}

const query = { query: '{ user(id: "1") { name } }' }

describe.each([0, 1])('an Accept the server cannot answer, on server %i', (index) => {
  const server = () => servers[index] as GraphQLServer
  const credits = () => server().plugin.paywall.credits!
  const buyer = () => stack.chain.buyers[index] as Buyer

  it('is refused 406 before a credit hold: the balance is unchanged', async () => {
    const { token } = await credits().grant({ amount: 0.01 })
    const auth = { authorization: `Bearer ${token}` }
    for (const accept of ['text/plain', 'text/html, image/png', 'application/json; charset=latin1']) {
      const refused = await post(server().url, query, { ...auth, accept })
      expect(refused.response.status, accept).toBe(406)
      expect(refused.text).not.toContain('user 1')
    }
    // A batch too: none of its operations is charged.
    const batch = await post(server().url, [query, { query: '{ posts(first: 1) { id } }' }], {
      ...auth,
      accept: 'text/plain',
    })
    expect(batch.response.status).toBe(406)
    expect(await credits().balance(token as string)).toMatchObject({ available: '0.01' })

    // What either server answers in is accepted, and charged once served.
    for (const accept of ['application/json', 'application/*', '*/*', 'application/graphql-response+json']) {
      const served = await post(server().url, query, { ...auth, accept })
      expect(served.response.status, accept).toBe(200)
      expect(JSON.parse(served.text).data.user.name).toBe('user 1')
    }
    const none = await post(server().url, query, auth)
    expect(none.response.status).toBe(200)
    expect(await credits().balance(token as string)).toMatchObject({ available: '0.005' })
  })

  it('is refused 406 before an x402 payment is verified: nothing settled, the same payment still pays', async () => {
    const unpaid = await gql(server().url, query)
    expect(unpaid.response.status).toBe(402)
    const payment = signedPayment(buyer(), requirementsOf(unpaid.response))
    const before = await stack.chain.balanceOf(buyer().address)
    const settledBefore = (await server().plugin.paywall.config.ledger.listByState(['settled'], Date.now() + 60_000))
      .length

    const refused = await post(server().url, query, { 'payment-signature': payment, accept: 'text/plain' })
    expect(refused.response.status).toBe(406)
    expect(refused.response.headers.get('payment-response')).toBeNull()
    expect(await stack.chain.balanceOf(buyer().address)).toBe(before)
    const settled = await server().plugin.paywall.config.ledger.listByState(['settled'], Date.now() + 60_000)
    expect(settled.length).toBe(settledBefore)

    const paid = await gql(server().url, query, { 'payment-signature': payment })
    expect(paid.response.status).toBe(200)
    expect(paid.body.data.user.name).toBe('user 1')
    expect(await stack.chain.balanceOf(buyer().address)).toBe(before - 1000n)
  })
})
