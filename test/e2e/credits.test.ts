import type { Server } from 'node:http'
import type { PaymentRequirements } from '@402x/core'
import { createAdaptorServer } from '@hono/node-server'
import { x402Middleware } from '402x-api'
import { x402Middleware as x402Hono } from '402x-api/hono'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { receiptOf, requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'
import { officialPayingFetch } from '../interop/official.js'

// Prepaid credit and metered prices on Express, against a real chain: top-ups paid with
// x402, bearer draw-down with no chain work, reserve → serve → capture.
let stack: Stack
let server: Server
let url: string
let honoServer: Server
let honoUrl: string
const receipts: unknown[] = []
let slowSent = 0

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  const app = express()
  app.use(express.json())
  // One paywall with a routes table: it also serves /__402x/credits.
  const paywall = x402Middleware({
    ...options,
    routes: {
      'GET /api/data': { price: 0.01 },
      'GET /api/fail': { price: 0.01 },
      'GET /api/cheap': { price: 0.001 },
    },
  })
  paywall.paywall.events.on('receipt', (r) => receipts.push(r))
  app.use(paywall)
  app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
  app.get('/api/cheap', (_req, res) => res.json({ data: 'cheap' }))
  app.get('/api/fail', (_req, res) => res.status(500).json({ error: 'broken' }))

  // GPT-style completion priced per output token (seed sample, as written).
  app.post('/api/complete', x402Middleware({ ...options, pricePerToken: 0.00015 }), async (req, res) => {
    const words = String(req.body.prompt).split(' ')
    res.json({ text: words.join(' '), tokens: words.length })
  })
  // OpenAI-style streaming completion: one token per SSE event.
  const stream = (max?: number) => x402Middleware({ ...options, pricePerToken: 0.0001, ...(max ? { max } : {}) })
  const sse = async (req: express.Request, res: express.Response) => {
    res.setHeader('content-type', 'text/event-stream')
    const n = Number(req.query.n ?? 10)
    for (let i = 0; i < n; i++) {
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: `t${i} ` } }] })}\n\n`)
      if (req.query.slow) {
        slowSent = i + 1
        await sleep(40)
      }
    }
    res.write('data: [DONE]\n\n')
    res.end()
  }
  app.get('/api/stream', stream(), sse)
  app.get('/api/stream-small', stream(0.0005), sse)
  // Per second (seed sample), per item, per KB (seed samples).
  app.get(
    '/api/sandbox',
    x402Middleware({ ...options, pricePerSecond: 0.005, trackExecutionTime: true }),
    async (_req, res) => {
      await sleep(200)
      res.json({ ok: true })
    },
  )
  app.get(
    '/api/detect',
    x402Middleware({ ...options, price: 0.02, countItems: (response) => response.detectedObjects.length }),
    (_req, res) => res.json({ detectedObjects: ['cat', 'dog', 'car'] }),
  )
  app.get(
    '/api/export',
    x402Middleware({
      ...options,
      price: 0.01,
      meterResponse: (res) => {
        // Charge more for larger responses
        return res.data.length / 1000 // $0.01 per KB
      },
    }),
    (_req, res) => res.type('text/plain').send('x'.repeat(2500)),
  )
  // The unused part of an up-front payment sent back on chain from the payTo wallet.
  app.post(
    '/api/complete-onchain',
    x402Middleware({
      ...options,
      pricePerToken: 0.0001,
      max: 0.01,
      credits: { refund: 'onchain', refundKey: stack.chain.payTo.privateKey, rpcUrl: stack.chain.rpcUrl },
    }),
    (_req, res) => res.json({ text: 'a b c', tokens: 3 }),
  )
  app.post('/api/complete-fail', x402Middleware({ ...options, pricePerToken: 0.0001 }), (_req, res) => {
    res.status(502).json({ error: 'model down' })
  })
  server = createServer(app)
  url = await listen(server)

  // The same credit on Hono (a Web adapter): an SSE Response streamed through the meter.
  const hono = new Hono()
  hono.use('/api/stream', x402Hono({ ...options, pricePerToken: 0.0001, max: 0.0005 }))
  hono.get('/api/stream', (c) => {
    const n = Number(c.req.query('n') ?? 10)
    const encoder = new TextEncoder()
    let i = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === n) {
          controller.enqueue(encoder.encode('data: [DONE]\n\n'))
          return controller.close()
        }
        controller.enqueue(
          encoder.encode(`data: ${JSON.stringify({ choices: [{ delta: { content: `w${i++}` } }] })}\n\n`),
        )
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  })
  honoServer = createAdaptorServer({ fetch: hono.fetch }) as Server
  honoUrl = await listen(honoServer)
}, 120_000)

afterAll(async () => {
  await close(server)
  await close(honoServer)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }

/** Pays `requirements` from buyer `i` and sends the request. */
const pay = (i: number, path: string, requirements: PaymentRequirements, init: RequestInit = {}) =>
  fetch(`${url}${path}`, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      'PAYMENT-SIGNATURE': signedPayment(buyer(i), requirements),
    },
  })

/** Buys credit with buyer `i`: POST /__402x/credits?amount=…, paid with x402. */
async function buy(i: number, amount: string, token?: string) {
  const auth = token ? { authorization: `Bearer ${token}` } : {}
  const unpaid = await fetch(`${url}/__402x/credits?amount=${amount}`, { method: 'POST', headers: auth })
  expect(unpaid.status).toBe(402)
  const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
  const paid = await pay(i, `/__402x/credits?amount=${amount}`, requirements, { method: 'POST', headers: auth })
  expect(paid.status).toBe(200)
  return (await jsonOf(paid)) as { token?: string; credited: string; balance: { available: string } }
}

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
const jsonOf = (response: Response): Promise<any> => response.json()
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('credit top-ups', () => {
  it('offers a top-up in each 402, and sells credit to the official x402 client', async () => {
    const unpaid = await fetch(`${url}/api/data`)
    expect(unpaid.status).toBe(402)
    const offer = requiredOf(unpaid).extensions?.['402x-credits'] as { info: Record<string, string> }
    expect(offer.info).toMatchObject({ topUp: `${url}/__402x/credits`, minTopUp: '0.01', suggested: '1' })
    expect((await jsonOf(unpaid)).credits.topUp).toBe(`${url}/__402x/credits`)

    const before = await stack.chain.balanceOf(stack.chain.payTo.address)
    const official = officialPayingFetch({ chain: stack.chain, privateKey: buyer(0).privateKey })
    const answer = await official(`${url}/__402x/credits?amount=2.5`, { method: 'POST' })
    expect(answer.status).toBe(200)
    const body = await jsonOf(answer)
    expect(body).toMatchObject({ credited: '2.5', balance: { available: '2.5' } })
    expect(body.token).toMatch(/^x402c_/)
    expect(answer.headers.get('x-402x-credit-token')).toBe(body.token)
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 2_500_000n)

    const shown = await fetch(`${url}/__402x/credits`, { headers: bearer(body.token) })
    expect(shown.status).toBe(200)
    const account = await jsonOf(shown)
    expect(account.balance).toEqual({ available: '2.5', reserved: '0' })
    expect(account.entries[0]).toMatchObject({ kind: 'top_up', amount: '2.5', direction: 'in' })
  })

  it('tops up the same account when the token is sent, and refuses bad amounts and tokens', async () => {
    const { token } = await buy(1, '1')
    const again = await buy(1, '0.5', token)
    expect(again.token).toBeUndefined()
    expect(again.balance.available).toBe('1.5')

    for (const amount of ['0', '-1', 'abc', '5000', '0.0000001']) {
      const bad = await fetch(`${url}/__402x/credits?amount=${amount}`, { method: 'POST' })
      expect(bad.status).toBe(400)
      expect((await jsonOf(bad)).error).toBe('invalid_request')
    }
    const noAmount = await fetch(`${url}/__402x/credits`, { method: 'POST' })
    expect(noAmount.status).toBe(400)
    const unknown = await fetch(`${url}/api/data`, { headers: bearer('x402c_not-a-real-token') })
    expect(unknown.status).toBe(401)
    expect((await jsonOf(unknown)).error).toBe('invalid_token')
    expect((await fetch(`${url}/__402x/credits`)).status).toBe(401)
    // A bearer token that is not ours is the seller's business: the route asks for payment.
    expect((await fetch(`${url}/api/data`, { headers: bearer('someone-elses-jwt') })).status).toBe(402)
  })
})

describe('revoking a token', () => {
  it('lets the holder revoke a leaked token: it opens nothing any more, here or on the balance endpoint', async () => {
    const { token } = await buy(3, '0.02')
    expect((await fetch(`${url}/api/data`, { headers: bearer(token as string) })).status).toBe(200)
    const revoked = await fetch(`${url}/__402x/credits`, { method: 'DELETE', headers: bearer(token as string) })
    expect(revoked.status).toBe(200)
    expect(await jsonOf(revoked)).toMatchObject({ revoked: true, balance: { available: '0.01' } })
    const after = await fetch(`${url}/api/data`, { headers: bearer(token as string) })
    expect(after.status).toBe(401)
    expect((await jsonOf(after)).error).toBe('invalid_token')
    expect((await fetch(`${url}/__402x/credits`, { headers: bearer(token as string) })).status).toBe(401)
    const again = await fetch(`${url}/__402x/credits`, { method: 'DELETE', headers: bearer(token as string) })
    expect(again.status).toBe(401)
    expect((await fetch(`${url}/__402x/credits`, { method: 'DELETE' })).status).toBe(401)
  })

  it('refuses a top-up with a revoked token before anything is paid, instead of opening a new account', async () => {
    const { token } = await buy(3, '0.02')
    await fetch(`${url}/__402x/credits`, { method: 'DELETE', headers: bearer(token as string) })
    const unpaid = await fetch(`${url}/__402x/credits?amount=0.02`, {
      method: 'POST',
      headers: bearer(token as string),
    })
    expect(unpaid.status).toBe(401)
    expect(await jsonOf(unpaid)).toMatchObject({ reason: 'invalid_token', message: expect.stringMatching(/revoked/) })
    // Paid or not, the answer is the same, and the payment is never taken.
    const requirements = requiredOf(await fetch(`${url}/__402x/credits?amount=0.02`, { method: 'POST' }))
      .accepts[0] as PaymentRequirements
    const before = await stack.chain.balanceOf(buyer(3).address)
    const paid = await pay(3, '/__402x/credits?amount=0.02', requirements, {
      method: 'POST',
      headers: bearer(token as string),
    })
    expect(paid.status).toBe(401)
    expect(await stack.chain.balanceOf(buyer(3).address)).toBe(before)
  })
})

describe('paying from credit', () => {
  it('draws down the balance with no chain work, and charges nothing for a failed handler', async () => {
    const { token } = await buy(2, '0.05')
    const chainBefore = await stack.chain.balanceOf(buyer(2).address)
    const ok = await fetch(`${url}/api/data`, { headers: bearer(token as string) })
    expect(ok.status).toBe(200)
    expect(await jsonOf(ok)).toEqual({ data: 'paid' })
    expect(receiptOf(ok)).toMatchObject({ reserved: '10000', captured: '10000', returned: '0', balance: '40000' })
    expect(ok.headers.get('payment-response')).toBeNull()

    const failed = await fetch(`${url}/api/fail`, { headers: bearer(token as string) })
    expect(failed.status).toBe(500)
    expect(receiptOf(failed)).toMatchObject({
      captured: '0',
      returned: '10000',
      balance: '40000',
      reason: 'handler_error',
    })
    expect(await stack.chain.balanceOf(buyer(2).address)).toBe(chainBefore)

    // 4 more requests use it up; the next is a 402 offering a payment and a top-up.
    for (let i = 0; i < 4; i++)
      expect((await fetch(`${url}/api/data`, { headers: bearer(token as string) })).status).toBe(200)
    const empty = await fetch(`${url}/api/data`, { headers: bearer(token as string) })
    expect(empty.status).toBe(402)
    const body = await jsonOf(empty)
    expect(body.reason).toBe('insufficient_credit')
    expect(body.credits.balance).toBe('0')
    expect(requiredOf(empty).accepts[0]?.amount).toBe('10000')
    expect(receipts.length).toBeGreaterThanOrEqual(6)
  })

  it('serves exactly as many of 200 concurrent requests as the balance covers', async () => {
    const { token } = await buy(3, '0.05') // 50 requests at $0.001
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`${url}/api/cheap`, { headers: bearer(token as string) })),
    )
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(50)
    expect(statuses.filter((s) => s === 402)).toHaveLength(150)
    const shown = await jsonOf(await fetch(`${url}/__402x/credits`, { headers: bearer(token as string) }))
    expect(shown.balance).toEqual({ available: '0', reserved: '0' })
  })
})

describe('metered prices', () => {
  it('charges per output token from credit, and returns the rest of the reservation', async () => {
    const { token } = await buy(4, '1')
    const answer = await fetch(`${url}/api/complete`, {
      method: 'POST',
      headers: { ...bearer(token as string), 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'one two three four five six seven' }),
    })
    expect(answer.status).toBe(200)
    expect((await jsonOf(answer)).tokens).toBe(7)
    // 4096 tokens × $0.00015 reserved; 7 × 150 captured.
    expect(receiptOf(answer)).toMatchObject({
      reserved: '614400',
      captured: '1050',
      returned: '613350',
      balance: String(1_000_000 - 1050),
    })
  })

  it('takes the maximum as one payment from a caller with no credit, and credits the rest', async () => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a b c"}' }
    const unpaid = await fetch(`${url}/api/complete`, init)
    expect(unpaid.status).toBe(402)
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    expect(requirements.amount).toBe('614400')
    const before = await stack.chain.balanceOf(buyer(5).address)
    const paid = await pay(5, '/api/complete', requirements, init)
    expect(paid.status).toBe(200)
    expect(paid.headers.get('payment-response')).toBeTruthy()
    expect(receiptOf(paid)).toMatchObject({
      reserved: '614400',
      captured: '450',
      returned: '613950',
      balance: '613950',
    })
    const token = paid.headers.get('x-402x-credit-token') as string
    expect(token).toMatch(/^x402c_/)
    expect(await stack.chain.balanceOf(buyer(5).address)).toBe(before - 614_400n)
    // The rest is credit the caller now spends with no chain work.
    const next = await fetch(`${url}/api/data`, { headers: bearer(token) })
    expect(next.status).toBe(200)
    expect(receiptOf(next).balance).toBe(String(613_950 - 10_000))
  })

  it("sends the unused part back on chain with refund: 'onchain'", async () => {
    const unpaid = await fetch(`${url}/api/complete-onchain`, { method: 'POST' })
    const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
    expect(requirements.amount).toBe('10000')
    const before = await stack.chain.balanceOf(buyer(5).address)
    const paid = await pay(5, '/api/complete-onchain', requirements, { method: 'POST' })
    expect(paid.status).toBe(200)
    const receipt = receiptOf(paid)
    expect(receipt).toMatchObject({ reserved: '10000', captured: '300', returned: '9700', refund: 'onchain' })
    expect(receipt.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    // Paid 10000, got 9700 back: 3 tokens × 100 on chain, to the atomic unit.
    expect(await stack.chain.balanceOf(buyer(5).address)).toBe(before - 300n)
    // Nothing of it stays as credit.
    expect(receipt.balance).toBe('0')
  })

  it('charges a failed metered handler nothing and says so in the receipt', async () => {
    const { token } = await buy(4, '0.5')
    const failed = await fetch(`${url}/api/complete-fail`, { method: 'POST', headers: bearer(token as string) })
    expect(failed.status).toBe(502)
    expect(receiptOf(failed)).toMatchObject({
      captured: '0',
      returned: '409600',
      balance: '500000',
      reason: 'handler_error',
    })
  })

  it('charges per second, per item and per KB', async () => {
    // The default maximums: 60 s × $0.005, 100 items × $0.02, 1000 KB × $0.01.
    const { token } = await buy(4, '12')
    const timed = await fetch(`${url}/api/sandbox`, { headers: bearer(token as string) })
    const t = receiptOf(timed)
    // At least 200 ms at $0.005/s = 1000 units; at most the 60 s reserved.
    expect(Number(t.captured)).toBeGreaterThanOrEqual(1000)
    expect(Number(t.captured)).toBeLessThan(5000)
    expect(BigInt(t.captured) + BigInt(t.returned)).toBe(BigInt(t.reserved))

    const items = await fetch(`${url}/api/detect`, { headers: bearer(token as string) })
    expect(receiptOf(items)).toMatchObject({ captured: '60000' }) // 3 × $0.02
    const kb = await fetch(`${url}/api/export`, { headers: bearer(token as string) })
    expect(await kb.text()).toHaveLength(2500)
    expect(receiptOf(kb)).toMatchObject({ captured: '25000' }) // 2.5 KB × $0.01
  })
})

/** Reads an SSE body: the data events and the final receipt. */
async function readSse(response: Response, stopAfter?: number) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const events: { event?: string; data: string }[] = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
    let at = text.indexOf('\n\n')
    while (at >= 0) {
      const raw = text.slice(0, at)
      text = text.slice(at + 2)
      const event = /^event: (.*)$/m.exec(raw)?.[1]
      const data = raw
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      events.push({ ...(event ? { event } : {}), data })
      at = text.indexOf('\n\n')
    }
    if (stopAfter !== undefined && events.length >= stopAfter) {
      await reader.cancel()
      break
    }
  }
  const tokens = events.filter((e) => !e.event && e.data !== '[DONE]').length
  const receipt = events.find((e) => e.event === 'x402-receipt')
  return { events, tokens, receipt: receipt ? JSON.parse(receipt.data) : undefined }
}

describe('streamed responses', () => {
  it('streams tokens as produced and charges tokens × price, to the atomic unit', async () => {
    const { token } = await buy(4, '1')
    const answer = await fetch(`${url}/api/stream?n=25`, { headers: bearer(token as string) })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('x-402x-reserved')).toBe('409600')
    const { tokens, receipt } = await readSse(answer)
    expect(tokens).toBe(25)
    expect(receipt).toMatchObject({ captured: String(25 * 100), returned: String(409_600 - 2500) })
    const shown = await jsonOf(await fetch(`${url}/__402x/credits`, { headers: bearer(token as string) }))
    expect(shown.atomic.available).toBe(String(1_000_000 - 2500))
    expect(shown.atomic.reserved).toBe('0')
  })

  it('stops with a final event when the reserve is used up', async () => {
    const { token } = await buy(4, '1')
    const answer = await fetch(`${url}/api/stream-small?n=20`, { headers: bearer(token as string) })
    const { tokens, receipt, events } = await readSse(answer)
    // $0.0005 covers 5 tokens at $0.0001.
    expect(tokens).toBe(5)
    expect(events.at(-1)?.event).toBe('x402-receipt')
    expect(receipt).toMatchObject({ reserved: '500', captured: '500', returned: '0', reason: 'metered_over_max' })
  })

  it('streams through a Web adapter (Hono) from the same credit, and stops at the reserve', async () => {
    const { token } = await buy(4, '1')
    const short = await fetch(`${honoUrl}/api/stream?n=3`, { headers: bearer(token as string) })
    expect(short.status).toBe(200)
    const first = await readSse(short)
    expect(first.tokens).toBe(3)
    expect(first.receipt).toMatchObject({ reserved: '500', captured: '300', returned: '200', balance: '999700' })
    const long = await readSse(await fetch(`${honoUrl}/api/stream?n=20`, { headers: bearer(token as string) }))
    expect(long.tokens).toBe(5)
    expect(long.receipt).toMatchObject({ captured: '500', reason: 'metered_over_max', balance: '999200' })
    // The Express app sees the same balance: one credit file, one account.
    const shown = await jsonOf(await fetch(`${url}/__402x/credits`, { headers: bearer(token as string) }))
    expect(shown.atomic).toMatchObject({ available: '999200', reserved: '0' })
  })

  it('charges an abandoned stream only for what was sent', async () => {
    const { token } = await buy(4, '1')
    const answer = await fetch(`${url}/api/stream?n=50&slow=1`, { headers: bearer(token as string) })
    const { tokens } = await readSse(answer, 3)
    expect(tokens).toBe(3)
    await sleep(300)
    const shown = await jsonOf(await fetch(`${url}/__402x/credits`, { headers: bearer(token as string) }))
    const charged = 1_000_000 - Number(shown.atomic.available)
    expect(shown.atomic.reserved).toBe('0')
    // What went out before the server saw the close: at least what was read, never all 50.
    expect(charged).toBeGreaterThanOrEqual(300)
    expect(charged).toBeLessThanOrEqual(slowSent * 100)
    expect(slowSent).toBeLessThan(50)
  })
})
