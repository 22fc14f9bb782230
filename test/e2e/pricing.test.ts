import { createServer, type Server } from 'node:http'
import {
  createPayment,
  decodeHeader,
  encodeHeader,
  PaymentRequiredSchema,
  type PaymentRequirements,
  type SiwxExtension,
  signSiwx,
} from '@402x/core'
import { createSqliteLedger, type PaymentEvent, x402Middleware } from '402x-api'
import { createX402Client } from '402x-client'
import express, { type NextFunction, type Request, type Response } from 'express'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Every up-front pricing model of seed 000, on Express, against a real chain.
let stack: Stack
let server: Server
let url: string
let ledgerPath: string
let drift = 0
const events: Record<string, unknown[]> = { verified: [], payment: [], settled: [], released: [], rejected: [] }

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  ledgerPath = options.ledger
  const app = express()
  app.use(express.json())
  const ok = (req: Request, res: Response) => res.json({ ok: true, body: req.body ?? null })

  // Image generation priced by size (seed sample, as written).
  app.post(
    '/api/image',
    x402Middleware({
      ...options,
      price: (req) => {
        const { width, height, steps } = req.body
        return (width * height * steps) / 1000000
      },
    }),
    ok,
  )
  // PDF pages (seed sample), with an async variant.
  app.post('/api/pdf', x402Middleware({ ...options, price: (req) => req.body.pages * 0.01 }), ok)
  app.post(
    '/api/pdf-async',
    x402Middleware({
      ...options,
      price: async (req) => {
        await new Promise((r) => setTimeout(r, 5))
        return req.body.pages * 0.01
      },
    }),
    ok,
  )
  // Speech-to-text per minute (seed sample).
  app.post(
    '/api/transcribe',
    x402Middleware({ ...options, pricePerMinute: 0.1, calculateMinutes: (req) => req.body.audioDuration / 60 }),
    ok,
  )
  // A price that is not a function of the request: the paid attempt sees another price.
  app.get(
    '/api/drifting',
    x402Middleware({
      ...options,
      price: () => {
        drift += 1
        return drift % 2 === 1 ? 0.01 : 0.02
      },
    }),
    ok,
  )
  // Tiered volume discounts (seed sample, thresholds scaled down).
  const tiered = x402Middleware({
    ...options,
    ledger: createSqliteLedger({ path: `${stack.dir}/tiers.db` }),
    price: (_req, user) => {
      if (user.monthlyRequests >= 4) return 0.005
      if (user.monthlyRequests >= 2) return 0.008
      return 0.01
    },
  })
  app.get('/api/tiered', tiered, ok)
  // Request validation (seed sample, as written).
  app.post(
    '/api/generate',
    x402Middleware({
      ...options,
      price: 0.01,
      validate: (req) => {
        if (!req.body.prompt) throw new Error('Prompt required')
        if (req.body.prompt.length > 1000) throw new Error('Prompt too long')
      },
    }),
    ok,
  )
  // Free tier: 2 free requests per IP per window, then 402; and per API key.
  app.get('/api/free-ip', x402Middleware({ ...options, price: 0.01, free: { requests: 2, windowMs: 60_000 } }), ok)
  app.get(
    '/api/free-key',
    x402Middleware({ ...options, price: 0.01, free: { requests: 1, by: 'key', windowMs: 60_000 } }),
    ok,
  )
  app.get(
    '/api/free-payer',
    x402Middleware({ ...options, price: 0.01, free: { requests: 2, by: 'payer', windowMs: 60_000 } }),
    ok,
  )
  // Conditional middleware: a "pro" caller is served free.
  app.get(
    '/api/conditional',
    x402Middleware({ ...options, price: 0.01, skip: (req) => req.headers['x-plan'] === 'pro' }),
    ok,
  )
  // The seed's error-handling sample, as written, behind `errors: 'next'`.
  const evented = x402Middleware({ ...options, price: 0.01, errors: 'next' })
  for (const name of Object.keys(events)) {
    evented.paywall.events.on(name as 'payment', (e: PaymentEvent) => events[name]?.push(e))
  }
  app.get('/api/custom/item', evented, ok)
  app.get('/api/custom/broken', evented, (_req, res) => {
    res.status(500).json({ error: 'broken' })
  })
  // Express 5 names its wildcards (`/api/*splat`); the seed's `/api/*` is Express 4 syntax.
  app.use(
    '/api/*splat',
    (err: { code?: string; price?: string; address?: string }, _req: Request, res: Response, next: NextFunction) => {
      if (err.code === 'PAYMENT_REQUIRED') {
        res.status(402).json({
          error: 'Payment required',
          price: err.price,
          paymentAddress: err.address,
        })
      } else next(err)
    },
  )
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i]!
const json = { 'content-type': 'application/json' }

async function quote(path: string, init: RequestInit = {}) {
  const res = await fetch(`${url}${path}`, init)
  expect(res.status).toBe(402)
  const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
  if (!required.ok) throw new Error('no PAYMENT-REQUIRED')
  return { res, required: required.value, body: (await res.json()) as Record<string, unknown> }
}

async function pay(path: string, requirements: PaymentRequirements, i: number, init: RequestInit = {}) {
  const payment = createPayment({ privateKey: buyer(i).privateKey, from: buyer(i).address, requirements })
  return fetch(`${url}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'PAYMENT-SIGNATURE': encodeHeader(payment) },
  })
}

describe('prices computed from the request', () => {
  it('prices an image by size, and charges exactly that on chain', async () => {
    const init = { method: 'POST', headers: json, body: JSON.stringify({ width: 1024, height: 768, steps: 30 }) }
    const { required, body } = await quote('/api/image', init)
    // 1024 × 768 × 30 / 1e6 = 23.59296 dollars, exactly.
    expect(body.price).toBe('23.59296')
    expect(required.accepts[0]?.amount).toBe('23592960')
    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const res = await pay('/api/image', required.accepts[0]!, 0, init)
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeTruthy()
    expect((await stack.chain.balanceOf(stack.chain.payTo.address)) - before).toBe(23592960n)
  })

  it('prices per page, sync and async, rounding float noise to the atomic unit', async () => {
    for (const path of ['/api/pdf', '/api/pdf-async']) {
      // 3 × 0.01 is 0.030000000000000002 in floating point: charged as 30000 atomic units.
      const init = { method: 'POST', headers: json, body: JSON.stringify({ pages: 3 }) }
      const { required } = await quote(path, init)
      expect(required.accepts[0]?.amount).toBe('30000')
      const before = await stack.chain.balanceOf(buyer(1).address)
      const res = await pay(path, required.accepts[0]!, 1, init)
      expect(res.status).toBe(200)
      expect(before - (await stack.chain.balanceOf(buyer(1).address))).toBe(30000n)
    }
  })

  it('serves a request priced at 0 free, with no payment asked', async () => {
    const res = await fetch(`${url}/api/pdf`, { method: 'POST', headers: json, body: JSON.stringify({ pages: 0 }) })
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeNull()
  })

  it('answers 400 when the price cannot be computed from the request, before any payment', async () => {
    const res = await fetch(`${url}/api/pdf`, { method: 'POST', headers: json, body: JSON.stringify({}) })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/NaN/) })
    const none = await fetch(`${url}/api/pdf`, { method: 'POST' })
    expect(none.status).toBe(400)
    expect(await none.json()).toMatchObject({ message: expect.stringMatching(/could not be computed/) })
  })

  it('prices per minute with pricePerMinute and calculateMinutes', async () => {
    const init = { method: 'POST', headers: json, body: JSON.stringify({ audioDuration: 90 }) }
    const { required, body } = await quote('/api/transcribe', init)
    expect(body.price).toBe('0.15')
    expect(required.accepts[0]?.amount).toBe('150000')
    const res = await pay('/api/transcribe', required.accepts[0]!, 2, init)
    expect(res.status).toBe(200)
  })

  it('refuses a payment signed at a price the function no longer gives, names the new price, charges nothing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      drift = 0
      const { required } = await quote('/api/drifting')
      expect(required.accepts[0]?.amount).toBe('10000')
      const before = await stack.chain.balanceOf(buyer(3).address)
      const res = await pay('/api/drifting', required.accepts[0]!, 3)
      expect(res.status).toBe(402)
      const body = (await res.json()) as { message: string }
      expect(body).toMatchObject({ reason: 'price_changed', price: '0.02' })
      expect(body.message).toMatch(/costs \$0\.02 now/)
      const again = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
      expect(again.ok && again.value.accepts[0]?.amount).toBe('20000')
      expect(await stack.chain.balanceOf(buyer(3).address)).toBe(before)
      // The seller is told once that the price function is not a function of the request.
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/different price for the paid attempt/)
    } finally {
      warn.mockRestore()
    }
  })
})

describe('volume tiers by the payer’s history', () => {
  it('discounts a payer by their payments this month, read from the ledger', async () => {
    const payer = await stack.chain.newBuyer(10_000_000n)
    const client = createX402Client({
      wallet: payer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const spent: bigint[] = []
    for (let i = 0; i < 6; i++) {
      const before = await stack.chain.balanceOf(payer.address)
      const res = await client.get(`${url}/api/tiered`)
      expect(res.status).toBe(200)
      spent.push(before - (await stack.chain.balanceOf(payer.address)))
    }
    // 2 at list price, 2 at the 2+ tier, then the 4+ tier: each charged once, never more.
    expect(spent).toEqual([10000n, 10000n, 8000n, 8000n, 5000n, 5000n])
  })

  it('quotes the list price to an unknown caller, and the tier price to one that names itself', async () => {
    const { required } = await quote('/api/tiered')
    expect(required.accepts[0]?.amount).toBe('10000')
    // A payer with history is refused at list price (price_changed, nothing charged) …
    const heavy = await stack.chain.newBuyer(1_000_000n)
    const payHeavy = (requirements: PaymentRequirements) =>
      fetch(`${url}/api/tiered`, {
        headers: {
          'PAYMENT-SIGNATURE': encodeHeader(
            createPayment({ privateKey: heavy.privateKey, from: heavy.address, requirements }),
          ),
        },
      })
    for (let i = 0; i < 2; i++) expect((await payHeavy(required.accepts[0]!)).status).toBe(200)
    const refused = await payHeavy(required.accepts[0]!)
    expect(refused.status).toBe(402)
    expect(await refused.json()).toMatchObject({ reason: 'price_changed', price: '0.008' })
    // … and quoted the tier price when it names itself with X-402x-Payer.
    const named = await quote('/api/tiered', { headers: { 'x-402x-payer': heavy.address } })
    expect(named.required.accepts[0]?.amount).toBe('8000')
    expect((await payHeavy(named.required.accepts[0]!)).status).toBe(200)
  })
})

describe('validation before payment', () => {
  it('answers 400 with the message before asking for payment', async () => {
    const res = await fetch(`${url}/api/generate`, { method: 'POST', headers: json, body: JSON.stringify({}) })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/^Prompt required/),
    })
    const long = await fetch(`${url}/api/generate`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: 'x'.repeat(1001) }),
    })
    expect(long.status).toBe(400)
    expect(((await long.json()) as { message: string }).message).toMatch(/^Prompt too long/)
  })

  it('charges nothing for an invalid request that carries a valid payment', async () => {
    const { required } = await quote('/api/generate', { method: 'POST', headers: json, body: '{"prompt":"hi"}' })
    const before = await stack.chain.balanceOf(buyer(4).address)
    const res = await pay('/api/generate', required.accepts[0]!, 4, { method: 'POST', headers: json, body: '{}' })
    expect(res.status).toBe(400)
    expect(await stack.chain.balanceOf(buyer(4).address)).toBe(before)
    // The same payment still pays for a valid request: it was never used.
    const ok = await pay('/api/generate', required.accepts[0]!, 4, {
      method: 'POST',
      headers: json,
      body: '{"prompt":"hi"}',
    })
    expect(ok.status).toBe(200)
    expect(before - (await stack.chain.balanceOf(buyer(4).address))).toBe(10000n)
  })
})

describe('free tier plus paid tier', () => {
  it('serves N requests per IP free, then asks for payment', async () => {
    expect((await fetch(`${url}/api/free-ip`)).status).toBe(200)
    expect((await fetch(`${url}/api/free-ip`)).status).toBe(200)
    const third = await fetch(`${url}/api/free-ip`)
    expect(third.status).toBe(402)
    const { required } = await quote('/api/free-ip')
    expect((await pay('/api/free-ip', required.accepts[0]!, 5)).status).toBe(200)
  })

  it('counts free requests per API key', async () => {
    const get = (key?: string) => fetch(`${url}/api/free-key`, key ? { headers: { 'x-api-key': key } } : {})
    expect((await get('alice')).status).toBe(200)
    expect((await get('alice')).status).toBe(402)
    expect((await get('bob')).status).toBe(200)
    // No key, no free request.
    expect((await get()).status).toBe(402)
  })

  it('counts free requests per payer proven with SIGN-IN-WITH-X, then charges', async () => {
    const payer = await stack.chain.newBuyer(1_000_000n)
    const client = createX402Client({
      wallet: payer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const charges: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const res = await client.get(`${url}/api/free-payer`)
      expect(res.status).toBe(200)
      charges.push(res.headers.get('payment-response') ? 'paid' : null)
    }
    expect(charges).toEqual([null, null, 'paid'])
    expect(await stack.chain.balanceOf(payer.address)).toBe(1_000_000n - 10000n)
  })

  it('gives nothing free for a replayed, foreign or missing sign-in', async () => {
    const unpaid = await fetch(`${url}/api/free-payer`)
    expect(unpaid.status).toBe(402)
    const required = decodeHeader(unpaid.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no header')
    const extension = required.value.extensions?.['sign-in-with-x'] as SiwxExtension
    expect(extension.supportedChains).toEqual([{ chainId: 'eip155:31337', type: 'eip191' }])
    const payer = await stack.chain.newBuyer(0n)
    const sign = (info: SiwxExtension['info']) =>
      encodeHeader(signSiwx({ info, chainId: 'eip155:31337', privateKey: payer.privateKey, address: payer.address }))
    const proof = sign(extension.info)
    expect((await fetch(`${url}/api/free-payer`, { headers: { 'SIGN-IN-WITH-X': proof } })).status).toBe(200)
    const replay = await fetch(`${url}/api/free-payer`, { headers: { 'SIGN-IN-WITH-X': proof } })
    expect(replay.status).toBe(402)
    const foreign = sign({ ...extension.info, domain: 'evil.example.com' })
    const refused = await fetch(`${url}/api/free-payer`, { headers: { 'SIGN-IN-WITH-X': foreign } })
    expect(refused.status).toBe(402)
    expect(await refused.json()).toMatchObject({ reason: 'invalid_siwx_domain_mismatch' })
  })

  it('serves free when the conditional middleware says so', async () => {
    expect((await fetch(`${url}/api/conditional`, { headers: { 'x-plan': 'pro' } })).status).toBe(200)
    expect((await fetch(`${url}/api/conditional`, { headers: { 'x-plan': 'free' } })).status).toBe(402)
  })
})

describe('the seed’s error handling, and the lifecycle events', () => {
  it('hands the 402 to the Express error handler with err.price and err.address', async () => {
    const res = await fetch(`${url}/api/custom/item`)
    expect(res.status).toBe(402)
    expect(await res.json()).toEqual({
      error: 'Payment required',
      price: '0.01',
      paymentAddress: stack.chain.payTo.address,
    })
    // x402 clients can still pay from the header the middleware set.
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    expect(required.ok).toBe(true)
    const client = createX402Client({
      wallet: buyer(5).privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })
    const paid = await client.get(`${url}/api/custom/item`)
    expect(paid.status).toBe(200)
  })

  it('emits verified, payment, settled, released and rejected', async () => {
    const ids = (name: string) => events[name]!.map((e) => (e as { id?: string }).id)
    expect(events.verified!.length).toBeGreaterThan(0)
    expect(events.payment!.length).toBe(1)
    expect(ids('settled')).toEqual(ids('payment'))
    expect(events.settled![0]).toMatchObject({ price: '0.01', amount: 10000n, state: 'settled' })
    const unpaid = await fetch(`${url}/api/custom/broken`)
    const accepts = decodeHeader(unpaid.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!accepts.ok) throw new Error('no header')
    const res = await pay('/api/custom/broken', accepts.value.accepts[0]!, 5)
    expect(res.status).toBe(500)
    expect(events.released!.at(-1)).toMatchObject({ reason: 'handler answered 500' })
    const replay = await fetch(`${url}/api/custom/item`, { headers: { 'PAYMENT-SIGNATURE': 'not base64 json' } })
    expect(replay.status).toBe(400)
    expect(events.rejected!.at(-1)).toMatchObject({ reason: expect.any(String) })
  })
})

describe('the ledger behind volume pricing', () => {
  it('counts only settled payments of this month', async () => {
    const ledger = createSqliteLedger({ path: ledgerPath })
    try {
      const stats = await ledger.payerStats(buyer(1).address, Date.UTC(2000, 0, 1))
      expect(stats).toEqual([{ asset: stack.chain.usdc.toLowerCase(), count: 2, amount: 60000n }])
      expect(await ledger.payerStats(buyer(1).address, Date.now() + 60_000)).toEqual([])
    } finally {
      await ledger.close()
    }
  })
})
