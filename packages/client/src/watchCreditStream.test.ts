import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { streamReceiptOf } from './watchCreditStream.js'
import { wrapFetch } from './wrapFetch.js'

// A metered SSE stream as a 402x seller sends it, written in pieces cut in awkward places
// (inside a character, inside `event: x402-receipt`, inside the receipt's JSON), with pauses
// so that they reach the client as separate chunks.
const token = `x402c_${'t'.repeat(43)}`
const opened = `x402c_${'o'.repeat(43)}`
const wallet = generatePrivateKey()
const receiptJson =
  '{"reserved":"50000","captured":"900","returned":"49100","balance":"999100","decimals":6,"refund":"credit"}'
const tokens = ['héllo', ' wörld €', ' 😀'].map(
  (t) => `data: ${JSON.stringify({ choices: [{ delta: { content: t } }] })}\n\n`,
)
const text = `${tokens.join('')}data: [DONE]\n\nevent: x402-receipt\ndata: ${receiptJson}\n\n`
const body = Buffer.from(text)
const cuts = [
  body.indexOf('€') + 1,
  body.indexOf('😀') + 2,
  body.indexOf('event: x402-re') + 12,
  body.indexOf('"captured"') + 4,
  body.length - 1,
]
let origin = ''
let closed: Promise<void> = Promise.resolve()
const seen: (string | undefined)[] = []

const server: Server = createServer(async (req, res) => {
  seen.push(req.headers.authorization)
  const url = new URL(req.url ?? '/', origin)
  const head: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8' }
  if (url.pathname === '/slow') {
    // Never ends by itself: only the client's cancel stops it.
    closed = new Promise((resolve) => res.on('close', resolve))
    res.writeHead(200, { ...head, 'X-402x-Reserved': '50000' })
    for (let i = 0; !res.destroyed && i < 500; i++) {
      res.write(`data: {"choices":[{"delta":{"content":"t${i}"}}]}\n\n`)
      await sleep(10)
    }
    res.end()
    return
  }
  if (url.pathname === '/sse') head['X-402x-Reserved'] = '50000'
  if (url.searchParams.has('open')) head['X-402x-Credit-Token'] = opened
  res.writeHead(200, head)
  let from = 0
  for (const cut of [...cuts, body.length]) {
    res.write(body.subarray(from, cut))
    from = cut
    await sleep(15)
  }
  res.end()
})

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Reads a body to its end: the bytes, and the balance the client knew after each chunk. */
async function readAll(response: Response, balance: () => string | undefined) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  const balances: (string | undefined)[] = []
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    chunks.push(r.value)
    balances.push(balance())
  }
  return { bytes: Buffer.concat(chunks), balances }
}

describe('wrapFetch with a metered stream', () => {
  it('hands the caller every byte unchanged, and reads the final receipt as it passes', async () => {
    const pay = wrapFetch(fetch, { wallet, credits: { topUp: 1, tokens: { [origin]: token } } })
    const response = await pay(`${origin}/sse`)
    expect(seen.at(-1)).toBe(`Bearer ${token}`)
    expect(response.url).toBe(`${origin}/sse`)
    expect(response.headers.get('x-402x-reserved')).toBe('50000')
    // The head says nothing of the cost yet.
    expect(pay.credits[origin]?.balance).toBeUndefined()
    const { bytes, balances } = await readAll(response, () => pay.credits[origin]?.balance)
    expect(bytes.equals(body)).toBe(true)
    // Known from the chunk that completes the receipt's data line: before the caller has it.
    expect(balances.length).toBeGreaterThan(1)
    expect(balances[0]).toBeUndefined()
    expect(balances.at(-1)).toBe('0.9991')
    expect(await streamReceiptOf(response)).toEqual({
      reserved: 50_000n,
      captured: 900n,
      returned: 49_100n,
      balance: 999_100n,
      decimals: 6,
      refund: 'credit',
    })
  })

  it('reads the receipt of a stream that opened an account (a metered payment’s remainder)', async () => {
    const pay = wrapFetch(fetch, { wallet })
    const response = await pay(`${origin}/sse?open=1`)
    expect(pay.credits[origin]).toEqual({ token: opened })
    expect(await response.text()).toBe(text)
    expect(pay.credits[origin]).toEqual({ token: opened, balance: '0.9991' })
  })

  it('lets the caller cancel the stream: the server sees it close, and the client works on', async () => {
    const pay = wrapFetch(fetch, { wallet, credits: { topUp: 1, tokens: { [origin]: token } } })
    const response = await pay(`${origin}/slow`)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"t0"')
    await reader.cancel()
    const bound = sleep(5_000).then(() => 'still open')
    expect(await Promise.race([closed.then(() => 'closed'), bound])).toBe('closed')
    expect(await streamReceiptOf(response)).toBeUndefined()
    expect(pay.credits[origin]?.balance).toBeUndefined()
    const next = await pay(`${origin}/sse`)
    expect(await next.text()).toBe(text)
    expect(pay.credits[origin]?.balance).toBe('0.9991')
  })

  it('leaves alone a stream it keeps no credit for, and one sent with the caller’s own Authorization', async () => {
    const pay = wrapFetch(fetch, { wallet })
    const plain = await pay(`${origin}/plain`)
    expect(await plain.text()).toBe(text)
    expect(await streamReceiptOf(plain)).toBeUndefined()
    expect(pay.credits).toEqual({})

    const mine = wrapFetch(fetch, { wallet, credits: { topUp: 1, tokens: { [origin]: token } } })
    const own = await mine(`${origin}/sse`, { headers: { authorization: 'Bearer someone-elses' } })
    expect(await own.text()).toBe(text)
    expect(await streamReceiptOf(own)).toBeUndefined()
    expect(mine.credits[origin]).toEqual({ token })
  })
})
