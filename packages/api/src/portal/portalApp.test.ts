import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { x402Credits, x402Middleware } from '../express/x402Middleware.js'
import { plans } from '../keys/plans.js'
import type { PaywallOptions } from '../paywall/types.js'

// An Express app as the seeds write one, with a middleware per route (402x dev's demo is
// one): several paywalls on one ledger, the first mounted (credit alone) having no routes
// and no keys. Its portal lists every priced route of the app, and signs in with the keys of
// the paywall that has them, whichever answers.
const dir = mkdtempSync(join(tmpdir(), '402x-portal-app-'))
const settings = {
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, 'ledger.db'),
  reconcileIntervalMs: 0,
} as const
let server: Server
let url: string
const made: { paywall: { close(): Promise<void> } }[] = []
let keyed: ReturnType<typeof x402Middleware>

beforeAll(async () => {
  const app = express()
  app.use(express.json())
  const credit = x402Credits(settings)
  keyed = x402Middleware({
    ...settings,
    routes: { 'GET /api/keyed/quote': { price: '0.001', description: 'A quote for a key' } },
    keys: { plans: [plans.free()] },
    portal: { selfServiceKeys: { plans: ['free'] } },
  } as PaywallOptions)
  const generate = x402Middleware({ ...settings, price: 0.01, description: 'Text generation' } as PaywallOptions)
  const market = x402Middleware({ ...settings, price: 0.001, description: 'Market data' } as PaywallOptions)
  const quote = x402Middleware({ ...settings, price: 0.002, description: 'A quote' } as PaywallOptions)
  // A routes table for the documents only (as the demo's): it lists the market up front.
  const docs = x402Middleware({
    ...settings,
    routes: { 'GET /api/market/:symbol': { price: 0.001, description: 'Market data' } },
    discovery: { title: 'Market API' },
  } as PaywallOptions)
  made.push(credit, keyed, generate, market, quote, docs)
  app.use(credit)
  app.use(keyed)
  app.get('/api/keyed/quote', (_req, res) => void res.json({ ok: true }))
  app.use('/api/generate', generate)
  app.post('/api/generate', (_req, res) => void res.json({ ok: true }))
  app.get('/api/market/:symbol', market, (req, res) => void res.json({ symbol: req.params.symbol }))
  app.get('/api/quote/:symbol', quote, (req, res) => void res.json({ symbol: req.params.symbol }))
  app.get('/openapi.json', docs)
  server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  for (const m of made) await m.paywall.close()
  rmSync(dir, { recursive: true, force: true })
})

type Doc = {
  paths: Record<string, Record<string, { 'x-payment-info'?: { price: { mode: string; amount?: string } } }>>
}
let title: string | undefined
const priced = async () => {
  const answer = await fetch(`${url}/__402x/portal/api/openapi.json`)
  expect(answer.status).toBe(200)
  const doc = (await answer.json()) as Doc & { info: { title: string } }
  title = doc.info.title
  const out: Record<string, string | undefined> = {}
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
      out[`${method.toUpperCase()} ${path}`] = op['x-payment-info']?.price.amount
  return out
}

describe('portal of an app with a middleware per route', () => {
  it('lists the routes of every paywall of the app, a per-route one once a request reached it, by its route', async () => {
    // Up front: the routes tables (the keyed paywall's, the documents'), titled by the one that names the API.
    expect(await priced()).toEqual({ 'GET /api/keyed/quote': '0.001', 'GET /api/market/{symbol}': '0.001' })
    expect(title).toBe('Market API')
    for (const path of ['/api/market/ETH', '/api/quote/ETH', '/api/quote/BTC'])
      expect((await fetch(`${url}${path}`)).status).toBe(402)
    const generated = await fetch(`${url}/api/generate`, { method: 'POST' })
    expect(generated.status).toBe(402)
    // Express named the quote's route: one entry for every symbol, not one per symbol asked;
    // the market, listed by a table already, is not listed twice.
    expect(await priced()).toEqual({
      'GET /api/keyed/quote': '0.001',
      'GET /api/market/{symbol}': '0.001',
      'GET /api/quote/{symbol}': '0.002',
      'POST /api/generate': '0.01',
    })
  })

  it("signs in with a key of the app's keyed paywall and offers its plans, though another paywall answers first", async () => {
    const info = (await (await fetch(`${url}/__402x/portal/api/info`)).json()) as Record<string, unknown>
    expect(info).toMatchObject({ signIn: { wallet: true, apiKey: true } })
    expect((info.selfServicePlans as { name: string }[]).map((p) => p.name)).toEqual(['free'])
    const { key } = await (keyed.paywall.keys as NonNullable<typeof keyed.paywall.keys>).create({
      name: 'app',
      plan: 'free',
    })
    const signed = await fetch(`${url}/__402x/portal/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: key }),
    })
    expect(signed.status).toBe(200)
    const cookie = (signed.headers.get('set-cookie') as string).split(';')[0] as string
    const me = await fetch(`${url}/__402x/portal/api/me`, { headers: { cookie } })
    expect(await me.json()).toMatchObject({ kind: 'key', key: { name: 'app', plan: 'free' } })
  })
})
