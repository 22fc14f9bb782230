import type { Server } from 'node:http'
import { x402Middleware } from '402x-api'
import { type CreateX402ClientOptions, createX402Client, streamReceiptOf } from '402x-client'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// 402x-client reading a metered stream's final `x402-receipt` event against the real paywall
// and a real chain: the balance it keeps matches the server's to the atomic unit, and the
// caller reads exactly the bytes the server sent.
let stack: Stack
let server: Server
let url: string

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  const app = express()
  // Serves /__402x/credits (top-ups) from the same ledger as the metered route.
  app.use(x402Middleware({ ...options, routes: { 'GET /api/data': { price: 0.01 } } }))
  // OpenAI-style streaming completion, some of its text multi-byte: each event's 't0 é€😀 ' is
  // 13 UTF-8 bytes, so 4 tokens at the default count's 4 bytes a token.
  app.get('/api/stream', x402Middleware({ ...options, pricePerToken: 0.0001, max: 0.05 }), (req, res) => {
    res.setHeader('content-type', 'text/event-stream')
    const n = Number(req.query.n ?? 10)
    for (let i = 0; i < n; i++) {
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: `t${i} é€😀 ` } }] })}\n\n`)
    }
    res.write('data: [DONE]\n\n')
    res.end()
  })
  server = createServer(app)
  url = await listen(server)
}, 120_000)

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const clientOf = (i: number, extra: Partial<CreateX402ClientOptions> = {}) =>
  createX402Client({
    wallet: buyer(i).privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    budget: { maxPerRequest: 1 },
    ...extra,
  })

/** `fetch`, keeping each chunk of an SSE body as it comes off the wire. */
function recording(wire: Uint8Array[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init)
    if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) return response
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        wire.push(chunk.slice())
        controller.enqueue(chunk)
      },
    })
    return new Response(response.body.pipeThrough(tap), response)
  }
}

async function bytesOf(response: Response): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of response.body as ReadableStream<Uint8Array>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Tokens of each event of /api/stream, by the default count (see above). */
const perEvent = 4n

describe('402x-client reading a metered stream', () => {
  it('keeps the balance the final SSE receipt gives, to the atomic unit, and passes every byte through', async () => {
    const wire: Uint8Array[] = []
    const client = clientOf(1, { credits: { topUp: 1 }, fetch: recording(wire) })
    const n = 9
    const response = await client.fetch(`${url}/api/stream?n=${n}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-402x-reserved')).toBe('50000')
    expect(response.headers.get('x-402x-receipt')).toBeNull()
    expect(client.receipts.map((r) => [r.amount, r.topUp])).toEqual([[1_000_000n, true]])
    const read = await bytesOf(response)
    expect(read.equals(Buffer.concat(wire))).toBe(true)
    // 1 − 9 events × 4 tokens × $0.0001.
    const balance = 1_000_000n - BigInt(n) * perEvent * 100n
    expect(client.credits[url]?.balance).toBe('0.9964')
    expect(await streamReceiptOf(response)).toEqual({
      reserved: 50_000n,
      captured: BigInt(n) * perEvent * 100n,
      returned: 50_000n - BigInt(n) * perEvent * 100n,
      balance,
      decimals: 6,
      refund: 'credit',
    })

    // The same request, sent raw with the same token: the same bytes, but for the balance that
    // this second request's own receipt reports.
    const token = client.credits[url]?.token as string
    const raw = await fetch(`${url}/api/stream?n=${n}`, { headers: { authorization: `Bearer ${token}` } })
    const sent = await bytesOf(raw)
    const after = balance - BigInt(n) * perEvent * 100n
    expect(sent.toString()).toContain(`"balance":"${after}"`)
    const expected = Buffer.from(sent.toString().replace(`"balance":"${after}"`, `"balance":"${balance}"`))
    expect(read.equals(expected)).toBe(true)
    expect(read.toString()).toContain(`event: x402-receipt\ndata: {"reserved":"50000","captured":"3600"`)
    const shown = await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${token}` } })
    expect(((await shown.json()) as { atomic: { available: string } }).atomic.available).toBe(String(after))
  })

  it('keeps the account a metered payment opens with its remainder, as the stream reports it', async () => {
    // No credit policy: the stream's maximum is paid on chain, and the rest becomes credit.
    const client = clientOf(2)
    const before = await stack.chain.balanceOf(buyer(2).address)
    const answer = await client.get(`${url}/api/stream?n=4`)
    expect(answer.receipt?.amount).toBe(50_000n)
    expect(answer.credit).toMatchObject({ reserved: 50_000n, captured: 1600n, balance: 48_400n })
    expect(await stack.chain.balanceOf(buyer(2).address)).toBe(before - 50_000n)
    expect(client.credits[url]).toMatchObject({ token: expect.stringMatching(/^x402c_/), balance: '0.0484' })
  })
})
