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
  return { status: response.status, json: (await response.json()) as Record<string, any> }
}

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

describe('logs', () => {
  it('never hold a secret: admin, metrics, credit and API key tokens, payment signatures', () => {
    const text = lines.join('')
    expect(lines.length).toBeGreaterThan(5)
    for (const secret of secrets) expect(text).not.toContain(secret)
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
  })
})
