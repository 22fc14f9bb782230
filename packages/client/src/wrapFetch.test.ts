import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  decodeHeader,
  ExactEvmPayloadSchema,
  encodeHeader,
  formatMoney,
  PaymentPayloadSchema,
  type PaymentRequirements,
  parseMoney,
  verifyAuthorization,
} from '@402x/core'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BudgetExceededError } from './budget.js'
import { createX402Client } from './createX402Client.js'
import { wrapFetch } from './wrapFetch.js'

// A seller of prepaid credit, as the 402x protocol describes it, in a few lines: payments are
// checked (signature, amount, payee) but not settled; the chain is the end-to-end tests' job.
type Seen = { method: string; path: string; authorization?: string; paid: boolean }
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const payTo = '0x1111111111111111111111111111111111111111'

function createSeller(options: { topUp?: (origin: string) => string } = {}) {
  const accounts = new Map<string, bigint>()
  const seen: Seen[] = []
  let origin = ''
  const requirements = (amount: bigint): PaymentRequirements => ({
    scheme: 'exact',
    network: 'eip155:84532',
    amount: amount.toString(),
    asset: usdc,
    payTo,
    maxTimeoutSeconds: 60,
    extra: { name: 'USDC', version: '2' },
  })
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
  }
  const offer = (token?: string) => ({
    topUp: options.topUp?.(origin) ?? `${origin}/__402x/credits`,
    minTopUp: '0.01',
    maxTopUp: '1000',
    suggested: '1',
    ...(token && accounts.has(token) ? { balance: formatMoney(accounts.get(token) ?? 0n) } : {}),
  })
  const required = (res: ServerResponse, url: string, amount: bigint, token?: string, error?: string) => {
    const info = offer(token)
    const header = {
      x402Version: 2,
      ...(error ? { error } : {}),
      resource: { url },
      accepts: [requirements(amount)],
      extensions: { '402x-credits': { info } },
    }
    json(res, 402, { credits: info, ...(error ? { reason: error } : {}) }, { 'PAYMENT-REQUIRED': encodeHeader(header) })
  }
  /** Checks the payment a request carries, if any: `undefined` when it has none. */
  const payment = async (req: IncomingMessage, amount: bigint) => {
    const value = req.headers['payment-signature']
    if (typeof value !== 'string') return undefined
    const decoded = decodeHeader(value, PaymentPayloadSchema)
    const exact = decoded.ok ? ExactEvmPayloadSchema.safeParse(decoded.value.payload) : undefined
    if (!exact?.success) return false
    const check = await verifyAuthorization({ payload: exact.data, requirements: requirements(amount) })
    return check.isValid
  }
  const settled = (amount: bigint) => ({
    'PAYMENT-RESPONSE': encodeHeader({
      success: true,
      transaction: `0x${randomBytes(32).toString('hex')}`,
      network: 'eip155:84532',
      amount: amount.toString(),
    }),
  })
  const open = (balance: bigint) => {
    const token = `x402c_${randomBytes(32).toString('base64url')}`
    accounts.set(token, balance)
    return token
  }
  const receipt = (reserved: bigint, captured: bigint, balance: bigint) =>
    JSON.stringify({
      reserved: reserved.toString(),
      captured: captured.toString(),
      returned: (reserved - captured).toString(),
      balance: balance.toString(),
      decimals: 6,
    })

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin)
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    seen.push({
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      paid: typeof req.headers['payment-signature'] === 'string',
    })
    if (bearer && !accounts.has(bearer)) return json(res, 401, { error: 'invalid_token', message: 'unknown token' })
    if (url.pathname === '/__402x/credits' && req.method === 'POST') {
      const amount = parseMoney(url.searchParams.get('amount') ?? '0')
      const paid = await payment(req, amount)
      if (!paid) return required(res, url.href, amount, bearer, paid === false ? 'invalid_payment' : undefined)
      if (bearer) accounts.set(bearer, (accounts.get(bearer) ?? 0n) + amount)
      const token = bearer ?? open(amount)
      const body = {
        ...(bearer ? {} : { token }),
        credited: formatMoney(amount),
        balance: { available: formatMoney(accounts.get(token) ?? 0n), reserved: '0' },
      }
      return json(res, 200, body, { ...settled(amount), ...(bearer ? {} : { 'X-402x-Credit-Token': token }) })
    }
    if (url.pathname === '/away') return res.writeHead(302, { location: `${url.searchParams.get('to')}` }).end()
    if (url.pathname === '/home') return res.writeHead(307, { location: '/echo' }).end()
    if (url.pathname === '/echo') return json(res, 200, { authorization: req.headers.authorization ?? null })
    if (url.pathname === '/stream') {
      // A metered stream: reserves $0.05 of credit, uses $0.03, and says so in its last event.
      const balance = bearer ? (accounts.get(bearer) ?? 0n) : 0n
      if (!bearer || balance < 50_000n) return required(res, url.href, 50_000n, bearer, bearer && 'insufficient_credit')
      accounts.set(bearer, balance - 30_000n)
      res.writeHead(200, { 'content-type': 'text/event-stream', 'X-402x-Reserved': '50000' })
      res.write('data: {"choices":[{"delta":{"content":"hi"}}]}\n\nevent: x402-rec')
      return res.end(`eipt\ndata: ${receipt(50_000n, 30_000n, balance - 30_000n)}\n\n`)
    }
    // `/priced` costs $0.01, `/expensive` $2; `/metered` reserves $0.05 and uses $0.02.
    const price = { '/priced': 10_000n, '/expensive': 2_000_000n, '/metered': 50_000n }[url.pathname]
    if (price === undefined) return json(res, 404, { error: 'not_found' })
    const used = url.pathname === '/metered' ? 20_000n : price
    if (await payment(req, price)) {
      if (url.pathname !== '/metered') return json(res, 200, { ok: true, paid: true }, settled(price))
      const token = open(price - used)
      return json(
        res,
        200,
        { ok: true, paid: true },
        {
          ...settled(price),
          'X-402x-Receipt': receipt(price, used, price - used),
          'X-402x-Credit-Token': token,
        },
      )
    }
    const balance = bearer ? (accounts.get(bearer) ?? 0n) : undefined
    if (bearer && balance !== undefined && balance >= price) {
      accounts.set(bearer, balance - used)
      return json(res, 200, { ok: true, credit: true }, { 'X-402x-Receipt': receipt(price, used, balance - used) })
    }
    return required(res, url.href, price, bearer, bearer ? 'insufficient_credit' : undefined)
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => json(res, 500, { error: String(error) }))
  })
  return {
    accounts,
    seen,
    open,
    get origin() {
      return origin
    },
    async start() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    },
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const seller = createSeller()
const other = createSeller()
const wallet = generatePrivateKey()
const budget = { maxPerRequest: 2, maxTotal: 10 }

beforeAll(async () => {
  await seller.start()
  await other.start()
})
afterAll(async () => {
  await seller.stop()
  await other.stop()
})
beforeEach(() => {
  seller.seen.length = 0
  other.seen.length = 0
})

describe('wrapFetch with prepaid credit', () => {
  it('buys credit on the first 402, then spends it with the token: one payment for many requests', async () => {
    const saved: [string, string][] = []
    const client = createX402Client({
      wallet,
      budget,
      credits: { topUp: 1, onToken: (origin, token) => saved.push([origin, token]) },
    })
    const first = await client.get(`${seller.origin}/priced`)
    expect(first.data).toEqual({ ok: true, credit: true })
    expect(first.credit).toMatchObject({ captured: 10_000n, balance: 990_000n })
    expect(client.receipts).toHaveLength(1)
    expect(client.receipts[0]).toMatchObject({ amount: 1_000_000n, method: 'POST', topUp: true })
    expect(client.receipts[0]?.url).toBe(`${seller.origin}/__402x/credits?amount=1`)
    const token = saved[0]?.[1] ?? ''
    expect(saved).toEqual([[seller.origin, expect.stringMatching(/^x402c_/)]])
    expect(client.credits[seller.origin]).toEqual({
      token,
      balance: '0.99',
      topUp: `${seller.origin}/__402x/credits`,
    })

    const second = await client.get(`${seller.origin}/priced`)
    expect(second.receipt).toBeUndefined()
    expect(client.receipts).toHaveLength(1)
    expect(client.spent()).toBe(1_000_000n)
    expect(client.credits[seller.origin]?.balance).toBe('0.98')
    expect(seller.accounts.get(token)).toBe(980_000n)
    expect(seller.seen.at(-1)).toMatchObject({ path: '/priced', authorization: `Bearer ${token}`, paid: false })
  })

  it('refuses a top-up over budget with the budget error, before signing anything', async () => {
    const pay = wrapFetch(fetch, { wallet, budget: { maxPerRequest: 0.1 }, credits: { topUp: 1 } })
    const error = await pay(`${seller.origin}/priced`).catch((e) => e)
    expect(error).toBeInstanceOf(BudgetExceededError)
    expect((error as BudgetExceededError).limit).toBe('maxPerRequest')
    expect(seller.seen.some((s) => s.paid)).toBe(false)
    expect(pay.tracker.spent()).toBe(0n)
  })

  it('pays the exact price when the top-up would not cover it', async () => {
    const pay = wrapFetch(fetch, { wallet, budget: { maxPerRequest: 3, maxTotal: 10 }, credits: { topUp: 1 } })
    const response = await pay(`${seller.origin}/expensive`)
    expect(await response.json()).toEqual({ ok: true, paid: true })
    expect(pay.receipts).toEqual([expect.objectContaining({ amount: 2_000_000n, url: `${seller.origin}/expensive` })])
    expect(pay.receipts[0]?.topUp).toBeUndefined()
    expect(seller.seen.some((s) => s.path.startsWith('/__402x/credits'))).toBe(false)
  })

  it('tops up the same account when the server says its balance is too low', async () => {
    const token = seller.open(5_000n)
    const tokens: string[] = []
    const pay = wrapFetch(fetch, {
      wallet,
      budget,
      credits: { topUp: '0.5', tokens: { [`${seller.origin}/`]: token }, onToken: (_, t) => tokens.push(t) },
    })
    const response = await pay(`${seller.origin}/priced`)
    expect(response.status).toBe(200)
    expect(seller.seen.map((s) => s.path)).toEqual([
      '/priced',
      '/__402x/credits?amount=0.5',
      '/__402x/credits?amount=0.5',
      '/priced',
    ])
    expect(seller.seen[1]?.authorization).toBe(`Bearer ${token}`)
    expect(seller.accounts.get(token)).toBe(495_000n)
    expect(pay.credits[seller.origin]?.balance).toBe('0.495')
    expect(tokens).toEqual([])
  })

  it('with `when`, tops up in the background once the balance falls below it', async () => {
    const token = seller.open(40_000n)
    const pay = wrapFetch(fetch, {
      wallet,
      budget,
      credits: { topUp: 0.05, when: 0.03, tokens: { [seller.origin]: token } },
    })
    // No top-up URL known yet: the first answers are credit-funded 200s without an offer.
    await pay(`${seller.origin}/priced`)
    await pay(`${seller.origin}/priced`)
    expect(pay.receipts).toHaveLength(0)
    // A 402 advertises where credit is sold; from then on a low balance is topped up early.
    seller.accounts.set(token, 0n)
    await pay(`${seller.origin}/priced`)
    expect(pay.receipts).toHaveLength(1)
    expect(pay.credits[seller.origin]?.balance).toBe('0.04')
    await pay(`${seller.origin}/priced`)
    await pay(`${seller.origin}/priced`) // 0.02 < 0.03: a top-up starts after this answer…
    await pay(`${seller.origin}/priced`) // …and this request waits for it.
    expect(pay.receipts).toHaveLength(2)
    expect(pay.receipts.every((r) => r.topUp)).toBe(true)
    expect(seller.accounts.get(token)).toBe(60_000n)
  })

  it('with `when`, tops up in the background after a stream’s final receipt says the balance is low', async () => {
    const client = createX402Client({ wallet, budget, credits: { topUp: 0.05, when: 0.03 } })
    const first = await client.get(`${seller.origin}/stream`)
    expect(first.data).toContain('event: x402-receipt')
    expect(first.credit).toMatchObject({ reserved: 50_000n, captured: 30_000n, balance: 20_000n })
    // $0.02 left, under the $0.05 a stream reserves: topped up before the next one is sent, not after a 402.
    const second = await client.get(`${seller.origin}/stream`)
    expect(second.credit).toMatchObject({ balance: 40_000n })
    expect(seller.seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /stream',
      'POST /__402x/credits?amount=0.05',
      'POST /__402x/credits?amount=0.05',
      'GET /stream',
      'POST /__402x/credits?amount=0.05',
      'POST /__402x/credits?amount=0.05',
      'GET /stream',
    ])
    expect(client.receipts.map((r) => [r.amount, r.topUp])).toEqual([
      [50_000n, true],
      [50_000n, true],
    ])
    expect(client.credits[seller.origin]?.balance).toBe('0.04')
  })

  it('shares one top-up between concurrent requests', async () => {
    const pay = wrapFetch(fetch, { wallet, budget, credits: { topUp: 1 } })
    const answers = await Promise.all([1, 2, 3, 4].map(() => pay(`${seller.origin}/priced`)))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200])
    expect(pay.receipts).toHaveLength(1)
    expect(pay.credits[seller.origin]?.balance).toBe('0.96')
  })

  it('keeps the token a metered payment opens for its remainder, and spends it (even without a policy)', async () => {
    const pay = wrapFetch(fetch, { wallet, budget })
    const metered = await pay(`${seller.origin}/metered`)
    expect(metered.headers.get('x-402x-receipt')).toContain('"captured":"20000"')
    expect(pay.receipts).toEqual([expect.objectContaining({ amount: 50_000n })])
    const token = pay.credits[seller.origin]?.token
    expect(token).toMatch(/^x402c_/)
    expect(pay.credits[seller.origin]?.balance).toBe('0.03')
    const next = await pay(`${seller.origin}/priced`)
    expect(await next.json()).toEqual({ ok: true, credit: true })
    expect(pay.receipts).toHaveLength(1)
    expect(seller.accounts.get(token ?? '')).toBe(20_000n)
  })

  it('with `credits: false`, never keeps or sends a token', async () => {
    const pay = wrapFetch(fetch, { wallet, budget, credits: false })
    await pay(`${seller.origin}/metered`)
    await pay(`${seller.origin}/priced`)
    expect(pay.credits).toEqual({})
    expect(pay.receipts.map((r) => r.amount)).toEqual([50_000n, 10_000n])
    expect(seller.seen.some((s) => s.authorization)).toBe(false)
  })

  it('sends a token to its own origin only, even across redirects, and never over the caller’s Authorization', async () => {
    const token = seller.open(100_000n)
    const pay = wrapFetch(fetch, { wallet, budget, credits: { topUp: 1, tokens: { [seller.origin]: token } } })
    const away = await pay(`${seller.origin}/away?to=${encodeURIComponent(`${other.origin}/echo`)}`)
    expect(await away.json()).toEqual({ authorization: null })
    expect(seller.seen[0]?.authorization).toBe(`Bearer ${token}`)
    expect(other.seen[0]?.authorization).toBeUndefined()
    const home = await pay(`${seller.origin}/home`)
    expect(await home.json()).toEqual({ authorization: `Bearer ${token}` })
    const own = await pay(`${seller.origin}/echo`, { headers: { authorization: 'Basic dXNlcjpwdw==' } })
    expect(await own.json()).toEqual({ authorization: 'Basic dXNlcjpwdw==' })
  })

  it('drops a token the server no longer knows and opens a new account', async () => {
    const stale = `x402c_${randomBytes(32).toString('base64url')}`
    const tokens: string[] = []
    const pay = wrapFetch(fetch, {
      wallet,
      budget,
      credits: { topUp: 1, tokens: { [seller.origin]: stale }, onToken: (_, t) => tokens.push(t) },
    })
    const response = await pay(`${seller.origin}/priced`)
    expect(response.status).toBe(200)
    expect(tokens).toHaveLength(1)
    expect(tokens[0]).not.toBe(stale)
    expect(pay.credits[seller.origin]?.token).toBe(tokens[0])
  })

  it('buys no credit where the top-up URL is on another origin: it pays the exact price', async () => {
    const foreign = createSeller({ topUp: () => `${other.origin}/__402x/credits` })
    await foreign.start()
    try {
      const pay = wrapFetch(fetch, { wallet, budget, credits: { topUp: 1 } })
      const response = await pay(`${foreign.origin}/priced`)
      expect(await response.json()).toEqual({ ok: true, paid: true })
      expect(pay.receipts.map((r) => r.amount)).toEqual([10_000n])
      expect(other.seen).toEqual([])
    } finally {
      await foreign.stop()
    }
  })

  it('pays the exact price when the top-up URL does not sell credit after all', async () => {
    const broken = createSeller({ topUp: (origin) => `${origin}/nowhere` })
    await broken.start()
    try {
      const pay = wrapFetch(fetch, { wallet, budget, credits: { topUp: 1 } })
      const response = await pay(`${broken.origin}/priced`)
      expect(await response.json()).toEqual({ ok: true, paid: true })
      expect(pay.receipts.map((r) => r.amount)).toEqual([10_000n])
      expect(broken.seen.map((s) => s.path)).toEqual(['/priced', '/nowhere?amount=1', '/priced'])
    } finally {
      await broken.stop()
    }
  })

  it('rejects a policy that cannot work, and tokens that are not tokens', () => {
    expect(() => wrapFetch(fetch, { wallet, credits: { topUp: 0 } })).toThrow('credits.topUp')
    expect(() => wrapFetch(fetch, { wallet, credits: { topUp: 1, when: 2 } })).toThrow('credits.topUp')
    expect(() =>
      wrapFetch(fetch, { wallet, credits: { topUp: 1, tokens: { 'not a url': 'x402c_abcdefgh' } } }),
    ).toThrow('credits.tokens')
  })
})
