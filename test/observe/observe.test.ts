import type { Server } from 'node:http'
import type { PaymentRequirements } from '@402x/core'
import { plans, x402Middleware } from '402x-api'
import express from 'express'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// Metrics, logs and the admin payments listing after real paid traffic on the local chain:
// exact payments, a credit top-up and credit draws, an API key, refusals.
const adminToken = 'admin-secret-7f3a9c'
const metricsToken = 'metrics-secret-2b8d4e'
let stack: Stack
let server: Server
let url: string
const lines: string[] = []
const secrets: string[] = [adminToken, metricsToken]

const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Pays `path` from buyer `i` (first a 402, then the signed payment). */
async function pay(path: string, i: number, init: RequestInit = {}, headers: Record<string, string> = {}) {
  const unpaid = await fetch(`${url}${path}`, { ...init, headers })
  expect(unpaid.status).toBe(402)
  const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
  const signature = signedPayment(buyer(i), requirements)
  secrets.push(signature)
  const paid = await fetch(`${url}${path}`, { ...init, headers: { ...headers, 'PAYMENT-SIGNATURE': signature } })
  expect(paid.status).toBeLessThan(300)
  return paid
}

/** The value of one sample of the scrape, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const body = /\{(.*)\}/.exec(line)?.[1] ?? ''
    const found = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.split(' ').at(-1))
  }
  return 0
}

const scrape = async (token = metricsToken) => {
  const response = await fetch(`${url}/__402x/metrics`, { headers: bearer(token) })
  expect(response.status).toBe(200)
  return response.text()
}
const admin = async (path: string) => {
  const response = await fetch(`${url}/__402x/admin${path}`, { headers: bearer(adminToken) })
  // biome-ignore lint/suspicious/noExplicitAny: the admin API's JSON answers, read field by field
  return { status: response.status, json: (await response.json()) as Record<string, any> }
}
const post = async (path: string, body: unknown) => {
  const response = await fetch(`${url}/__402x/admin${path}`, {
    method: 'POST',
    headers: { ...bearer(adminToken), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  // biome-ignore lint/suspicious/noExplicitAny: the admin API's JSON answers, read field by field
  return { status: response.status, json: (await response.json()) as Record<string, any> }
}
let creditAccount: string

beforeAll(async () => {
  stack = await startStack()
  const app = express()
  app.use(express.json())
  const paywall = x402Middleware({
    ...stack.paywall(),
    routes: { 'GET /api/data': 0.01, 'GET /api/cheap/:n': 0.001 },
    adminToken,
    metrics: { token: metricsToken },
    logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    keys: { plans: [plans.payAsYouGo()] },
  })
  app.use(paywall)
  app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
  app.get('/api/cheap/:n', (req, res) => res.json({ n: req.params.n }))
  server = createServer(app)
  url = await listen(server)

  await pay('/api/data', 0, {}, { 'x-request-id': 'trace-me.42' })
  await pay('/api/data', 1)
  await pay('/api/data', 0)
  await pay('/api/cheap/1', 2)
  await pay('/api/cheap/2', 2)
  expect((await fetch(`${url}/api/data`)).status).toBe(402)
  // Credit: a $1 top-up paid with x402, then two draws with its bearer token.
  const bought = await pay('/__402x/credits?amount=1', 3, { method: 'POST' })
  const { token } = (await bought.json()) as { token: string }
  secrets.push(token)
  for (let i = 0; i < 2; i++) expect((await fetch(`${url}/api/data`, { headers: bearer(token) })).status).toBe(200)
  // An API key on pay-as-you-go, made with the admin API: a key call with no credit is refused.
  const made = await fetch(`${url}/__402x/admin/keys`, {
    method: 'POST',
    headers: { ...bearer(adminToken), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'alice', plan: 'pay-as-you-go' }),
  })
  expect(made.status).toBe(201)
  const { key } = (await made.json()) as { key: string }
  secrets.push(key)
  await fetch(`${url}/api/data`, { headers: { 'x-api-key': key } })
}, 120_000)

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('metrics at /__402x/metrics', () => {
  it('are refused without a token or with a wrong one, and open to the metrics and the admin token', async () => {
    const none = await fetch(`${url}/__402x/metrics`)
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({ reason: 'invalid_metrics_token' })
    const wrong = await fetch(`${url}/__402x/metrics`, { headers: bearer('nope') })
    expect(wrong.status).toBe(401)
    expect((await fetch(`${url}/__402x/metrics`, { method: 'POST', headers: bearer(metricsToken) })).status).toBe(405)
    expect(await scrape(adminToken)).toContain('x402_payments_total')
  })

  it('count the payments and the revenue by asset as the ledger has them', async () => {
    const text = await scrape()
    const asset = stack.chain.usdc.toLowerCase()
    const labels = { network: stack.chain.network, asset }
    expect(sample(text, 'x402_payments_total', { ...labels, state: 'settled' })).toBe(6)
    // 3 × $0.01 + 2 × $0.001 + the $1 top-up, in atomic units and in dollars.
    expect(sample(text, 'x402_revenue_atomic_total', labels)).toBe(1_032_000)
    expect(sample(text, 'x402_revenue_dollars_total', labels)).toBeCloseTo(1.032, 9)
    const { json } = await admin('/payments?state=settled&limit=100')
    const sum = json.payments.reduce((n: bigint, p: { amountAtomic: string }) => n + BigInt(p.amountAtomic), 0n)
    expect(sum).toBe(1_032_000n)
    expect(sample(text, 'x402_facilitator_duration_seconds_count', { operation: 'settle', result: 'ok' })).toBe(6)
    expect(sample(text, 'x402_settlement_duration_seconds_count', { network: stack.chain.network, result: 'ok' })).toBe(
      6,
    )
    expect(sample(text, 'x402_store_duration_seconds_count', { store: 'ledger', operation: 'insert' })).toBe(6)
    expect(sample(text, 'x402_facilitator_errors_total', { operation: 'settle' })).toBe(0)
  })

  it('count requests by route and outcome, credit drawn, and never a scrape', async () => {
    const text = await scrape()
    const count = (route: string, outcome: string, status: string) =>
      sample(text, 'x402_requests_total', { route, outcome, status })
    expect(count('GET /api/data', 'paid', '200')).toBe(3)
    expect(count('GET /api/cheap/:n', 'paid', '200')).toBe(2)
    expect(count('GET /api/data', 'credit', '200')).toBe(2)
    // 402s: one before each of the 3 payments, the unpaid call, the key without credit.
    expect(count('GET /api/data', 'refused', '402')).toBe(5)
    expect(count('GET /api/cheap/:n', 'refused', '402')).toBe(2)
    expect(sample(text, 'x402_credit_charged_atomic_total', { route: 'GET /api/data' })).toBe(20_000)
    expect(sample(text, 'x402_request_duration_seconds_count', { route: 'GET /api/data', outcome: 'paid' })).toBe(3)
    expect(text).not.toContain('/__402x/metrics')
  })
})

describe('the admin payments listing', () => {
  it('filters by payer, state and resource, and pages with a cursor', async () => {
    const byPayer = await admin(`/payments?payer=${buyer(2).address}`)
    expect(byPayer.json.payments).toHaveLength(2)
    expect(byPayer.json.payments[0]).toMatchObject({
      payer: buyer(2).address.toLowerCase(),
      amount: '0.001',
      amountAtomic: '1000',
      state: 'settled',
      method: 'GET',
      network: stack.chain.network,
    })
    expect(byPayer.json.payments[0].resource).toMatch(/\/api\/cheap\/2$/)
    expect(byPayer.json.payments[0].transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(Date.parse(byPayer.json.payments[0].settledAt)).toBeGreaterThan(0)
    expect((await admin('/payments?resource=/api/cheap')).json.payments).toHaveLength(2)
    const first = await admin('/payments?state=settled&limit=4')
    expect(first.json.payments).toHaveLength(4)
    const second = await admin(`/payments?state=settled&limit=4&cursor=${first.json.next}`)
    expect(second.json.payments).toHaveLength(2)
    expect(second.json.next).toBeUndefined()
    const one = await admin(`/payments/${second.json.payments[1].id}`)
    expect(one.json.payment).toEqual(second.json.payments[1])
    expect((await admin('/payments/nope')).status).toBe(404)
    const bad = await admin('/payments?state=paid')
    expect(bad.status).toBe(400)
    expect(bad.json.message).toContain('settled')
  })
})

describe('the admin credit endpoints and the export', () => {
  it('list accounts, show the statement, grant and adjust with a reason, never below zero', async () => {
    const list = await admin('/credits')
    expect(list.json.accounts).toHaveLength(1)
    expect(list.json.accounts[0]).toMatchObject({ balance: '0.98', reserved: '0' })
    creditAccount = list.json.accounts[0].account
    const granted = await post(`/credits/${creditAccount}/grant`, { amount: '2.5', reason: 'welcome bonus', ref: 'w1' })
    expect(granted.status).toBe(200)
    expect(granted.json).toMatchObject({ balance: '3.48', replayed: false })
    expect(
      (await post(`/credits/${creditAccount}/grant`, { amount: '2.5', reason: 'again', ref: 'w1' })).json,
    ).toMatchObject({ balance: '3.48', replayed: true })
    const down = await post(`/credits/${creditAccount}/adjust`, {
      amount: '-1.48',
      reason: 'support ticket 812',
      ref: 'a1',
    })
    expect(down.json).toMatchObject({ amount: '-1.48', balance: '2', replayed: false })
    const over = await post(`/credits/${creditAccount}/adjust`, { amount: '-2.01', reason: 'too much' })
    expect(over.status).toBe(400)
    expect(over.json).toMatchObject({ reason: 'insufficient_credit' })
    expect((await post(`/credits/${creditAccount}/adjust`, { amount: '1' })).status).toBe(400)
    expect((await post('/credits/acct_nobody/grant', { amount: '1', reason: 'x' })).status).toBe(404)
    const one = await admin(`/credits/${creditAccount}`)
    expect(one.json).toMatchObject({ account: creditAccount, balance: '2', reserved: '0' })
    const notes = one.json.statement.map((e: { kind: string; amount: string; note?: string }) => [
      e.kind,
      e.amount,
      e.note,
    ])
    expect(notes).toEqual(
      expect.arrayContaining([
        ['grant', '2.5', 'welcome bonus'],
        ['adjust', '-1.48', 'support ticket 812'],
      ]),
    )
  })

  it('export the period as CSV and as CloudEvents, equal to the ledger', async () => {
    const { json } = await admin('/payments?limit=1000')
    const ledger = [...json.payments].reverse()
    const from = new Date(Date.now() - 3_600_000).toISOString()
    const to = new Date(Date.now() + 60_000).toISOString()
    const csv = await fetch(`${url}/__402x/admin/export?from=${from}&to=${to}&format=csv`, {
      headers: bearer(adminToken),
    })
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/)
    const rows = (await csv.text()).trimEnd().split('\r\n')
    expect(rows[0]).toBe(
      'id,created_at,settled_at,state,payer,amount,amount_atomic,asset,network,method,resource,transaction',
    )
    const paid = ledger.filter((p: { state: string }) => ['settled', 'pending', 'reconciled'].includes(p.state))
    expect(rows.slice(1).map((r) => r.split(',')[0])).toEqual(paid.map((p: { id: string }) => p.id))
    expect(rows[1]?.split(',')).toEqual([
      paid[0].id,
      paid[0].createdAt,
      paid[0].settledAt,
      paid[0].state,
      paid[0].payer,
      paid[0].amount,
      paid[0].amountAtomic,
      paid[0].asset,
      paid[0].network,
      paid[0].method,
      paid[0].resource,
      paid[0].transaction,
    ])
    const events = await fetch(`${url}/__402x/admin/export?from=${from}&to=${to}&format=cloudevents`, {
      headers: bearer(adminToken),
    })
    const lines = (await events.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(paid.length)
    expect(lines[0]).toMatchObject({
      specversion: '1.0',
      id: paid[0].id,
      source: `${url}/__402x`,
      type: 'dev.402x.payment.settled',
      time: paid[0].createdAt,
      subject: paid[0].payer,
      data: { amount: paid[0].amount, amountAtomic: paid[0].amountAtomic, transaction: paid[0].transaction },
    })
    const total = lines.reduce(
      (n: bigint, e: { data: { amountAtomic: string } }) => n + BigInt(e.data.amountAtomic),
      0n,
    )
    expect(total).toBe(1_032_000n)
    const bad = await fetch(`${url}/__402x/admin/export?format=xml`, { headers: bearer(adminToken) })
    expect(bad.status).toBe(400)
  })
})

describe('logs', () => {
  it('have one line per request with its id, route, status, outcome, duration and payer', () => {
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.requestId)
    // The caller's X-Request-Id, sent with the unpaid call and the paid one: both lines carry
    // it as clientRequestId, each with a request id of its own.
    const traced = requests.filter((l) => l.clientRequestId === 'trace-me.42')
    expect(traced.map((l) => [l.status, l.outcome])).toEqual([
      [402, 'refused'],
      [200, 'paid'],
    ])
    expect(traced[1]).toMatchObject({
      route: 'GET /api/data',
      status: 200,
      outcome: 'paid',
      payer: buyer(0).address,
      amount: '10000',
    })
    expect(traced[1].durationMs).toBeTypeOf('number')
    // The paid request's line names its payment, whose own line (settled) names it too.
    expect(traced[1].paymentId).toMatch(/\S/)
    const settled = lines.map((l) => JSON.parse(l)).filter((l) => l.paymentId === traced[1].paymentId && l.state)
    expect(settled).toHaveLength(1)
    expect(settled[0]).toMatchObject({ state: 'settled', payer: buyer(0).address })
    expect(traced[0].paymentId).toBeUndefined()
    expect(requests.filter((l) => l.outcome === 'credit')).toHaveLength(2)
    expect(new Set(requests.map((l) => l.requestId)).size).toBe(requests.length)
  })

  it('never hold a secret: admin, metrics, credit and API key tokens, payment signatures', () => {
    const text = lines.join('')
    expect(lines.length).toBeGreaterThan(5)
    for (const secret of secrets) expect(text).not.toContain(secret)
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
  })
})
