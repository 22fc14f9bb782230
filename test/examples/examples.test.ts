import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decodeHeader, PaymentRequiredSchema } from '@402x/core'
import { type CreateX402ClientOptions, createX402Client, X402HttpError } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Stack, startStack } from '../helpers/stack.js'
import { cleanEnv, devFolder, examplesDir, type RunningExample, startExample, stopChild } from './startExample.js'
import { writeHistory } from './writeHistory.js'

// Each example of examples/ as a user runs it: `node examples/<name>/server.js` in a folder
// where `402x dev` runs (here: its `.402x/dev.json` pointing at a real anvil, Circle's USDC
// and a facilitator), no other configuration, paid by 402x-client.
const run = promisify(execFile)
let stack: Stack
const running: RunningExample[] = []
const examples: Record<string, RunningExample> = {}

/** A time zone where the local hour is `hour` now (Etc/GMT-5 is UTC+5). */
function zoneWhereHourIs(hour: number): string {
  let offset = (hour - new Date().getUTCHours() + 24) % 24
  if (offset > 12) offset -= 24
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`
}

beforeAll(async () => {
  for (const pkg of ['api', 'client']) {
    const entry = join(examplesDir, '..', 'packages', pkg, 'dist', 'index.js')
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`)
  }
  stack = await startStack()
  const starts = [
    ['text-generation', 'text-generation', {}],
    ['image-generation', 'image-generation', {}],
    ['market-data', 'market-data', {}],
    ['pdf-pages', 'pdf-pages', {}],
    ['translate', 'translate', {}],
    ['streaming-completion', 'streaming-completion', {}],
    // Noon and 3 a.m. server time: hours from which a test's duration cannot leave peak or off-peak.
    ['pricing-strategies', 'pricing-strategies', { TZ: zoneWhereHourIs(12) }],
    ['pricing-off-peak', 'pricing-strategies', { TZ: zoneWhereHourIs(3) }],
  ] as const
  const started = await Promise.allSettled(
    starts.map(async ([key, name, env]) => {
      const example = await startExample(name, { cwd: devFolder(stack), env })
      running.push(example)
      examples[key] = example
    }),
  )
  const failed = started.find((s) => s.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
})

afterAll(async () => {
  await Promise.all(running.map((example) => stopChild(example.child, 'SIGKILL')))
  await stack?.stop()
})

const url = (key: string, path: string) => `${examples[key]!.url}${path}`
const json = { 'content-type': 'application/json' }
const post = (body: unknown): RequestInit => ({ method: 'POST', headers: json, body: JSON.stringify(body) })
const buyer = (i: number) => stack.chain.buyers[i]!
const payTo = () => stack.chain.payTo.address
const balance = (address: string) => stack.chain.balanceOf(address as `0x${string}`)
const client = (i: number, budget: CreateX402ClientOptions['budget'] = {}) =>
  createX402Client({
    wallet: buyer(i).privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    budget,
  })

/** The unpaid answer: a 402 whose body and PAYMENT-REQUIRED header both give the price. */
async function quote(target: string, init: RequestInit = {}) {
  const res = await fetch(target, init)
  expect(res.status).toBe(402)
  const header = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!header.ok) throw new Error(`${target}: no PAYMENT-REQUIRED header`)
  const body = (await res.json()) as { price: string; paymentAddress: string }
  const offer = header.value.accepts[0]!
  expect(offer).toMatchObject({ network: 'eip155:31337', asset: stack.chain.usdc, payTo: payTo() })
  expect(body.paymentAddress).toBe(payTo())
  return { price: body.price, amount: offer.amount, body }
}

/** What `pay()` moved on chain: from the payer, to the seller. */
async function charged<T>(payer: string, pay: () => Promise<T>): Promise<{ result: T; paid: bigint; earned: bigint }> {
  const [payerBefore, sellerBefore] = [await balance(payer), await balance(payTo())]
  const result = await pay()
  return {
    result,
    paid: payerBefore - (await balance(payer)),
    earned: (await balance(payTo())) - sellerBefore,
  }
}

describe('text-generation', () => {
  it('asks $0.01 for /api/generate, and answers the prompt once paid', async () => {
    expect(await quote(url('text-generation', '/api/generate'), post({ prompt: 'a cat' }))).toMatchObject({
      price: '0.01',
      amount: '10000',
    })
    const { result, paid, earned } = await charged(buyer(1).address, () =>
      client(1).post<{ result: string }>(url('text-generation', '/api/generate'), { prompt: 'a cat' }),
    )
    expect(result.status).toBe(200)
    expect(result.data).toEqual({ result: 'Once upon a time, a cat learned to charge per request.' })
    expect(result.receipt).toMatchObject({ amount: 10000n, price: '0.01', payTo: payTo(), status: 'settled' })
    expect(paid).toBe(10000n)
    expect(earned).toBe(10000n)
  })

  it('charges the completion per output token: reserves the maximum, returns the rest as credit', async () => {
    // 4096 tokens × $0.00015 is paid up front by a caller with no credit.
    expect(await quote(url('text-generation', '/api/complete'), post({ prompt: 'a cat' }))).toMatchObject({
      price: '0.6144',
      amount: '614400',
    })
    const pay = client(1, { maxPerRequest: 1 })
    const { result, paid } = await charged(buyer(1).address, () =>
      pay.post(url('text-generation', '/api/complete'), { prompt: 'a cat' }),
    )
    expect(result.data).toEqual({ text: 'a cat … and that is how the story ends.', tokens: 10 })
    expect(paid).toBe(614400n)
    // 10 tokens × 150 charged; the rest is the caller's credit, with a token to spend it.
    expect(result.headers.get('x-402x-receipt')).toBe(
      JSON.stringify({
        reserved: '614400',
        captured: '1500',
        returned: '612900',
        balance: '612900',
        decimals: 6,
        refund: 'credit',
      }),
    )
    const token = result.headers.get('x-402x-credit-token') as string
    const shown = await fetch(url('text-generation', '/__402x/credits'), {
      headers: { authorization: `Bearer ${token}` },
    })
    // Per-route middleware serves /__402x/credits only where a paywall sees it: this app has none there.
    expect([402, 404]).toContain(shown.status)
    // The credit left ($0.6129) does not cover the next reservation ($0.6144): the client pays
    // the maximum again with its token, and the unused part joins the same credit account.
    const { result: again, paid: paidAgain } = await charged(buyer(1).address, () =>
      pay.post(url('text-generation', '/api/complete'), { prompt: 'a dog' }),
    )
    expect(again.status).toBe(200)
    expect(paidAgain).toBe(614400n)
    expect(JSON.parse(again.headers.get('x-402x-receipt') as string)).toMatchObject({
      captured: '1500',
      balance: String(612900 * 2),
    })
    expect(again.headers.get('x-402x-credit-token')).toBeNull()
  })
})

describe('streaming-completion', () => {
  it('streams an OpenAI-style completion from credit and charges tokens × price, to the atomic unit', async () => {
    const pay = createX402Client({
      wallet: buyer(4).privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
      budget: { maxPerRequest: 1 },
      credits: { topUp: 1 },
    })
    const target = url('streaming-completion', '/v1/chat/completions')
    const ask = (content: string) =>
      pay.fetch(target, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content }] }),
      })
    const { result: response, paid } = await charged(buyer(4).address, () => ask('tell me a story about a cat'))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    // The client bought $1 of credit (one x402 payment) and streamed from it.
    expect(paid).toBe(1_000_000n)
    const text = await response.text()
    const events = text.split('\n\n').filter(Boolean)
    const tokens = events.filter((e) => e.includes('"delta"')).length
    const receipt = JSON.parse((events.at(-1) as string).replace(/^event: x402-receipt\ndata: /, ''))
    expect(tokens).toBe(9) // "You said: tell me a story about a cat"
    expect(receipt).toMatchObject({
      reserved: '50000',
      captured: String(tokens * 100),
      balance: String(1_000_000 - tokens * 100),
    })
    // A second stream costs no chain work; the balance endpoint agrees to the atomic unit.
    const { result: second, paid: paidAgain } = await charged(buyer(4).address, () => ask('hi'))
    const secondTokens = (await second.text()).split('\n\n').filter((e) => e.includes('"delta"')).length
    expect(paidAgain).toBe(0n)
    const token = pay.credits[new URL(target).origin]?.token as string
    const account = (await (
      await fetch(url('streaming-completion', '/__402x/credits'), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { atomic: { available: string; reserved: string } }
    expect(account.atomic).toMatchObject({
      available: String(1_000_000 - (tokens + secondTokens) * 100),
      reserved: '0',
    })
  })
})

describe('image-generation', () => {
  it('prices each image by width × height × steps / 1,000,000', async () => {
    const image = { prompt: 'a lighthouse', width: 512, height: 512, steps: 20 }
    expect(await quote(url('image-generation', '/api/image'), post(image))).toMatchObject({
      price: '5.24288',
      amount: '5242880',
    })
    const small = { ...image, width: 256, height: 256, steps: 10 }
    expect(await quote(url('image-generation', '/api/image'), post(small))).toMatchObject({ price: '0.65536' })
    const { result, paid, earned } = await charged(buyer(2).address, () =>
      client(2, { maxPerRequest: 6 }).post(url('image-generation', '/api/image'), image),
    )
    expect(result.data).toEqual({
      image: { ...image, url: 'https://images.example.com/512x512/20.png' },
    })
    expect(paid).toBe(5242880n)
    expect(earned).toBe(5242880n)
  })

  it('answers 400 for a request whose size is missing, before any payment', async () => {
    const res = await fetch(url('image-generation', '/api/image'), post({ prompt: 'no size' }))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/NaN/) })
  })
})

describe('market-data', () => {
  it('asks $0.001 per quote and returns it once paid', async () => {
    expect(await quote(url('market-data', '/api/market/ETH'))).toMatchObject({ price: '0.001', amount: '1000' })
    const { result, paid, earned } = await charged(buyer(3).address, () =>
      client(3).get(url('market-data', '/api/market/ETH')),
    )
    expect(result.data).toEqual({ symbol: 'ETH', price: 3412.25, currency: 'USD' })
    expect(paid).toBe(1000n)
    expect(earned).toBe(1000n)
  })

  it('charges nothing for an unknown symbol: the 404 releases the payment', async () => {
    const { result, paid, earned } = await charged(buyer(3).address, () =>
      client(3)
        .get(url('market-data', '/api/market/NOPE'))
        .catch((error: unknown) => error),
    )
    expect(result).toBeInstanceOf(X402HttpError)
    expect((result as X402HttpError).response).toMatchObject({
      status: 404,
      data: { error: 'unknown symbol NOPE; you were not charged' },
    })
    expect(paid).toBe(0n)
    expect(earned).toBe(0n)
  })
})

describe('pdf-pages', () => {
  it('asks $0.01 per page and processes the document once paid', async () => {
    expect(await quote(url('pdf-pages', '/api/pdf'), post({ pages: 3 }))).toMatchObject({
      price: '0.03',
      amount: '30000',
    })
    const { result, paid } = await charged(buyer(4).address, () =>
      client(4).post(url('pdf-pages', '/api/pdf'), { pages: 3, title: 'report' }),
    )
    expect(result.data).toEqual({
      pages: 3,
      text: ['report, page 1: extracted text', 'report, page 2: extracted text', 'report, page 3: extracted text'],
    })
    expect(paid).toBe(30000n)
  })

  it('answers 400 when the page count is missing', async () => {
    const res = await fetch(url('pdf-pages', '/api/pdf'), post({}))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/NaN/) })
  })
})

describe('translate', () => {
  it('asks $0.02, and the seed’s client pays it with the 402x dev buyer', async () => {
    expect(
      await quote(url('translate', '/api/translate'), post({ text: 'Hello, world!', targetLang: 'es' })),
    ).toMatchObject({ price: '0.02', amount: '20000' })
    const { result, paid, earned } = await charged(buyer(0).address, () =>
      run(process.execPath, [join(examplesDir, 'translate', 'client.js')], {
        cwd: examples.translate!.cwd,
        env: cleanEnv({ TRANSLATE_URL: url('translate', '/api/translate') }),
        timeout: 20_000,
      }),
    )
    const [translation, receipt] = result.stdout.trim().split('\n')
    expect(translation).toBe('¡Hola, mundo!')
    expect(receipt).toMatch(/^paid \$0\.02 in transaction 0x[0-9a-f]{64}$/)
    expect(paid).toBe(20000n)
    expect(earned).toBe(20000n)
  })
})

describe('pricing-strategies', () => {
  const at = (path: string) => url('pricing-strategies', path)

  it('cost-plus: the estimated compute cost plus 50%', async () => {
    // 500 tokens × $0.00002 × 1.5 and 256 (the default) × $0.00002 × 1.5.
    expect(await quote(at('/api/cost-plus'), post({ maxTokens: 500 }))).toMatchObject({ price: '0.015' })
    expect(await quote(at('/api/cost-plus'), post({}))).toMatchObject({ price: '0.00768', amount: '7680' })
    const { paid } = await charged(buyer(5).address, () => client(5).post(at('/api/cost-plus'), { maxTokens: 500 }))
    expect(paid).toBe(15000n)
  })

  it('value-based: $0.10 for the accurate model, $0.01 for the fast one', async () => {
    expect(await quote(at('/api/models/accurate'), { method: 'POST' })).toMatchObject({ price: '0.1' })
    expect(await quote(at('/api/models/fast'), { method: 'POST' })).toMatchObject({ price: '0.01' })
    const accurate = await charged(buyer(5).address, () => client(5).post(at('/api/models/accurate')))
    expect(accurate.paid).toBe(100000n)
    const fast = await charged(buyer(5).address, () => client(5).post(at('/api/models/fast')))
    expect(fast.paid).toBe(10000n)
  })

  it('tiered: the list price, then $0.008 past 1,000 paid requests this month and $0.005 past 10,000', async () => {
    const ledgerPath = join(examples['pricing-strategies']!.cwd, '.402x', 'ledger.db')
    const newcomer = await stack.chain.newBuyer(1_000_000n)
    const regular = await stack.chain.newBuyer(1_000_000n)
    const heavy = await stack.chain.newBuyer(1_000_000n)
    // Their history this month, as 1,001 and 10,001 paid requests would have left it in the
    // example's ledger (where the paywall reads `user.monthlyRequests`).
    const history = {
      network: stack.chain.network,
      asset: stack.chain.usdc,
      payTo: payTo(),
      resource: at('/api/tiered'),
    }
    await writeHistory(ledgerPath, { ...history, payer: regular.address, count: 1001 })
    await writeHistory(ledgerPath, { ...history, payer: heavy.address, count: 10_001 })
    const cases = [
      [newcomer, '0.01', 10000n],
      [regular, '0.008', 8000n],
      [heavy, '0.005', 5000n],
    ] as const
    for (const [payer, price, amount] of cases) {
      // Quoted their tier when they name themselves; an anonymous request is quoted the list price.
      expect(await quote(at('/api/tiered'), { headers: { 'x-402x-payer': payer.address } })).toMatchObject({ price })
      expect(await quote(at('/api/tiered'))).toMatchObject({ price: '0.01' })
      // The client signs the list price, is told its own price (price_changed), and pays that once.
      const paying = createX402Client({
        wallet: payer.privateKey,
        allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
      })
      const { result, paid } = await charged(payer.address, () => paying.get(at('/api/tiered')))
      expect(result.data).toEqual({ ok: true, route: '/api/tiered' })
      expect(result.receipt).toMatchObject({ price, amount })
      expect(paid).toBe(amount)
    }
  })

  it('time-based: $0.02 at noon server time, $0.01 at 3 a.m.', async () => {
    expect(await quote(at('/api/time-based'))).toMatchObject({ price: '0.02', amount: '20000' })
    expect(await quote(url('pricing-off-peak', '/api/time-based'))).toMatchObject({ price: '0.01' })
    const { paid } = await charged(buyer(5).address, () => client(5).get(at('/api/time-based')))
    expect(paid).toBe(20000n)
  })

  it('validate: 400 with the message before payment; a valid request is asked to pay', async () => {
    const missing = await fetch(at('/api/validated'), post({}))
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/^Prompt required/),
    })
    const long = await fetch(at('/api/validated'), post({ prompt: 'x'.repeat(1001) }))
    expect(long.status).toBe(400)
    expect(((await long.json()) as { message: string }).message).toMatch(/^Prompt too long/)
    expect(await quote(at('/api/validated'), post({ prompt: 'hi' }))).toMatchObject({ price: '0.01' })
    const { result, paid } = await charged(buyer(5).address, () =>
      client(5).post(at('/api/validated'), { prompt: 'hi' }),
    )
    expect(result.status).toBe(200)
    expect(paid).toBe(10000n)
  })

  it('free tier by IP: 3 free requests, then 402, then paid', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(at('/api/free/ip'))
      expect(res.status).toBe(200)
      expect(res.headers.get('payment-response')).toBeNull()
    }
    expect(await quote(at('/api/free/ip'))).toMatchObject({ price: '0.01' })
    const { paid } = await charged(buyer(5).address, () => client(5).get(at('/api/free/ip')))
    expect(paid).toBe(10000n)
  })

  it('free tier by API key: 2 free requests per key, none without one', async () => {
    const get = (key?: string) => fetch(at('/api/free/key'), key ? { headers: { 'x-api-key': key } } : {})
    expect((await get('alice')).status).toBe(200)
    expect((await get('alice')).status).toBe(200)
    expect((await get('alice')).status).toBe(402)
    expect((await get('bob')).status).toBe(200)
    expect((await get()).status).toBe(402)
  })

  it('conditional middleware: subscribers are served free, others pay', async () => {
    const subscriber = await fetch(at('/api/conditional'), { headers: { 'x-api-key': 'sub_demo_123' } })
    expect(subscriber.status).toBe(200)
    expect(await subscriber.json()).toEqual({ ok: true, route: '/api/conditional' })
    await quote(at('/api/conditional'), { headers: { 'x-api-key': 'someone-else' } })
    await quote(at('/api/conditional'))
  })

  it('onPayment: each settled payment reaches the analytics stand-in', async () => {
    expect(await (await fetch(at('/analytics'))).json()).toEqual({ tracked: [] })
    const { result } = await charged(buyer(5).address, () => client(5).get(at('/api/notified')))
    const { tracked } = (await (await fetch(at('/analytics'))).json()) as { tracked: unknown[] }
    expect(tracked).toEqual([
      expect.objectContaining({
        event: 'api_payment',
        payer: buyer(5).address,
        payTo: payTo(),
        amount: '10000',
        price: '0.01',
        transaction: result.receipt?.transaction,
        method: 'GET',
        state: 'settled',
      }),
    ])
  })

  it('errors: "next": the seed’s error handler renders the 402, and x402 clients can still pay', async () => {
    const res = await fetch(at('/api/custom/report'))
    expect(res.status).toBe(402)
    expect(await res.json()).toEqual({ error: 'Payment required', price: '0.01', paymentAddress: payTo() })
    const header = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
    expect(header.ok && header.value.accepts[0]?.amount).toBe('10000')
    const { result, paid, earned } = await charged(buyer(5).address, () => client(5).get(at('/api/custom/report')))
    expect(result.data).toEqual({ ok: true, route: '/api/custom/report' })
    expect(paid).toBe(10000n)
    expect(earned).toBe(10000n)
  })
})

describe('running the examples', () => {
  it('stops with a message naming the missing setting when no 402x dev runs and nothing is configured', async () => {
    const cwd = mkdtempSync(join(stack.dir, 'no-dev-'))
    const error = await run(process.execPath, [join(examplesDir, 'market-data', 'server.js')], {
      cwd,
      env: cleanEnv({ PORT: '0' }),
      timeout: 20_000,
    }).catch((e: { code?: number; stderr?: string }) => e)
    expect(error).toMatchObject({ code: 1 })
    expect((error as { stderr: string }).stderr).toContain('X402_PAY_TO is not set')
  })

  it('each example stops cleanly, with exit code 0, on SIGINT or SIGTERM', async () => {
    const codes = await Promise.all(
      running.map(async (example, i) => [example.name, await stopChild(example.child, i % 2 ? 'SIGINT' : 'SIGTERM')]),
    )
    expect(codes).toEqual(running.map((example) => [example.name, 0]))
    for (const example of running) await expect(fetch(example.url)).rejects.toThrow()
  })
})
