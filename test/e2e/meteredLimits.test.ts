import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { createPaywall, type Paywall, type RouteOptions, x402Middleware } from '402x-api'
import { x402Middleware as x402Hono } from '402x-api/hono'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createDemoApi } from '../../packages/cli/src/demoApi.js'
import { close, listen } from '../helpers/stack.js'

// Metered answers at their limits (issue 15, case 4), on a Node adapter (Express:
// serveMetered) and a Web one (Hono: meterWebStream / finish): an answer above the route's
// max is refused (or capped), and SSE counting fails closed. Paid from granted credit: no
// chain work is involved, so no chain runs.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const dir = mkdtempSync(join(tmpdir(), '402x-metered-limits-'))
const settings = {
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, 'ledger.db'),
  reconcileIntervalMs: 0,
} as const

type Answer = { json: unknown; delayMs?: number } | { text: string } | { sse: string[] }
type Route = { options: RouteOptions; answer: Answer }

const sse = (value: unknown) => `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`
const delta = (content: string) => sse({ choices: [{ delta: { content } }] })
const bigDelta = delta('x'.repeat(100 * 1024))
const over = { pricePerToken: 0.0001, max: 0.001 } // 10 tokens
const perToken = { pricePerToken: 0.000001, max: 1 } // 1 atomic unit a token, up to 1,000,000

const routes: Record<string, Route> = {
  // Buffered answers above the max, on every metered unit.
  '/tokens': { options: over, answer: { json: { text: 'long', tokens: 50 } } },
  '/seconds': {
    options: { pricePerSecond: 1, trackExecutionTime: true, max: 0.05 },
    answer: { json: { ok: 'slow' }, delayMs: 200 },
  },
  '/items': {
    options: { price: 0.01, countItems: (r) => r.items.length, max: 0.02 },
    answer: { json: { items: ['a', 'b', 'c', 'd', 'e'] } },
  },
  '/kb': {
    options: { price: 0.01, meterResponse: (r) => r.data.length / 1000, max: 0.01 },
    answer: { text: 'k'.repeat(2500) },
  },
  '/tokens-cap': { options: { ...over, overMax: 'cap' }, answer: { json: { text: 'long', tokens: 50 } } },
  '/seconds-cap': {
    options: { pricePerSecond: 1, trackExecutionTime: true, max: 0.05, overMax: 'cap' },
    answer: { json: { ok: 'slow' }, delayMs: 200 },
  },
  '/items-cap': {
    options: { price: 0.01, countItems: (r) => r.items.length, max: 0.02, overMax: 'cap' },
    answer: { json: { items: ['a', 'b', 'c', 'd', 'e'] } },
  },
  '/kb-cap': {
    options: { price: 0.01, meterResponse: (r) => r.data.length / 1000, max: 0.01, overMax: 'cap' },
    answer: { text: 'k'.repeat(2500) },
  },
  // SSE counting.
  '/sse-text': { options: perToken, answer: { sse: Array.from({ length: 200 }, () => sse({ text: 'abcdefgh' })) } },
  '/sse-big': { options: perToken, answer: { sse: [bigDelta, sse('[DONE]')] } },
  '/sse-big-default-max': { options: { pricePerToken: 0.000001 }, answer: { sse: [delta('hi'), bigDelta] } },
  '/sse-big-cap': { options: { pricePerToken: 0.000001, overMax: 'cap' }, answer: { sse: [delta('hi'), bigDelta] } },
  '/sse-usage': {
    options: perToken,
    answer: {
      sse: [
        sse({ choices: [{ delta: { role: 'assistant' } }] }),
        ': keep-alive\n\n',
        delta('hello'),
        delta('hello'),
        delta('hello'),
        sse({ choices: [{ delta: {}, finish_reason: 'stop' }] }),
        sse({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } }),
        sse('[DONE]'),
      ],
    },
  },
  '/sse-anthropic': {
    options: perToken,
    answer: {
      sse: [
        'event: message_start\n' +
          sse({
            type: 'message_start',
            message: { id: 'm', role: 'assistant', content: [], usage: { input_tokens: 5, output_tokens: 1 } },
          }),
        'event: content_block_delta\n' +
          sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a'.repeat(40) } }),
        'event: message_delta\n' +
          sse({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }),
        `event: message_stop\n${sse({ type: 'message_stop' })}`,
      ],
    },
  },
  '/sse-unknown': {
    options: perToken,
    answer: { sse: [sse({ text: 'ok' }), sse({ result: { answer: 'secret words' } }), sse({ text: 'never' })] },
  },
  '/sse-not-json': {
    options: perToken,
    answer: { sse: [sse({ text: 'ok' }), sse('plain words'), sse({ text: 'never' })] },
  },
  '/sse-count': {
    options: { ...perToken, countTokens: (event) => event?.n ?? 0 },
    answer: { sse: [sse({ result: { answer: 'secret words' }, n: 3 }), sse('plain words'), sse({ n: 4 })] },
  },
}

const servers: Server[] = []
const urls: Record<string, string> = {}
let token: string
let grantor: Paywall

beforeAll(async () => {
  grantor = createPaywall({ ...settings, price: 0.01 } as never)
  token = (await grantor.credits?.grant({ amount: 10, ref: 'metered-limits' }))?.token as string

  const app = express()
  const hono = new Hono()
  for (const [path, { options, answer }] of Object.entries(routes)) {
    app.get(path, x402Middleware({ ...settings, ...options } as never), async (_req, res) => {
      if ('json' in answer) {
        if (answer.delayMs) await sleep(answer.delayMs)
        res.json(answer.json)
      } else if ('text' in answer) res.type('text/plain').send(answer.text)
      else {
        res.setHeader('content-type', 'text/event-stream')
        for (const event of answer.sse) res.write(event)
        res.end()
      }
    })
    hono.use(path, x402Hono({ ...settings, ...options } as never))
    hono.get(path, async (c) => {
      if ('json' in answer) {
        if (answer.delayMs) await sleep(answer.delayMs)
        return c.json(answer.json)
      }
      if ('text' in answer) return c.text(answer.text)
      const encoder = new TextEncoder()
      const events = [...answer.sse]
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const event = events.shift()
          if (event === undefined) controller.close()
          else controller.enqueue(encoder.encode(event))
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
    })
  }
  const expressServer = app.listen(0, '127.0.0.1')
  servers.push(expressServer)
  await new Promise((r) => expressServer.once('listening', r))
  const address = expressServer.address() as { port: number }
  urls.Express = `http://127.0.0.1:${address.port}`
  const honoServer = createAdaptorServer({ fetch: hono.fetch }) as Server
  servers.push(honoServer)
  urls.Hono = await listen(honoServer)
}, 60_000)

afterAll(async () => {
  for (const s of servers) await close(s)
  await grantor?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The caller's available credit, in atomic units. */
async function available(): Promise<number> {
  const shown = await grantor.credits?.balance(token)
  expect(shown?.reserved).toBe('0')
  return Math.round(Number(shown?.available) * 1_000_000)
}

const receiptOf = (response: Response) => JSON.parse(response.headers.get('x-402x-receipt') ?? 'null')

/** Reads an SSE answer: its events (name and data), and the final receipt. */
async function readSse(response: Response) {
  const text = await response.text()
  const events = text
    .split('\n\n')
    .filter(Boolean)
    .map((raw) => ({
      event: /^event: (.*)$/m.exec(raw)?.[1],
      data: raw
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    }))
  const receipt = events.find((e) => e.event === 'x402-receipt')
  return { text, events, receipt: receipt ? JSON.parse(receipt.data) : undefined }
}

describe.each(['Express', 'Hono'])('%s', (adapter) => {
  const get = (path: string) => fetch(`${urls[adapter]}${path}`, { headers: { authorization: `Bearer ${token}` } })

  it.each([
    ['/tokens', '0.001', 'long'],
    ['/seconds', '0.05', 'slow'],
    ['/items', '0.02', '"e"'],
    ['/kb', '0.01', 'kkkk'],
  ])(
    'a buffered answer above the max (%s) is refused: 502 metered_over_max, nothing sent or charged, one warning',
    async (path, max, content) => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      try {
        const before = await available()
        const answer = await get(path)
        const text = await answer.text()
        expect(answer.status).toBe(502)
        expect(JSON.parse(text).error).toBe('metered_over_max')
        expect(text).not.toContain(content)
        expect(receiptOf(answer)).toMatchObject({ captured: '0', reason: 'metered_over_max' })
        expect(await available()).toBe(before)
        const warnings = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('metered_over_max'))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain(`max of $${max}`)
        expect(warnings[0]).toContain(path)
      } finally {
        warn.mockRestore()
      }
    },
  )

  it.each([
    ['/tokens-cap', 1000, 'long'],
    ['/seconds-cap', 50_000, 'slow'],
    ['/items-cap', 20_000, '"e"'],
    ['/kb-cap', 10_000, 'kkkk'],
  ])("with overMax: 'cap' (%s) it is served whole and charged exactly the max", async (path, max, content) => {
    const before = await available()
    const answer = await get(path)
    expect(answer.status).toBe(200)
    expect(await answer.text()).toContain(content)
    expect(receiptOf(answer)).toMatchObject({
      reserved: String(max),
      captured: String(max),
      reason: 'metered_over_max',
    })
    expect(await available()).toBe(before - max)
  })

  it('SSE: 200 {"text": …} events are charged by their text (8 bytes: 2 tokens each)', async () => {
    const before = await available()
    const { receipt, events } = await readSse(await get('/sse-text'))
    expect(events.filter((e) => !e.event)).toHaveLength(200)
    expect(receipt).toMatchObject({ captured: '400' })
    expect(await available()).toBe(before - 400)
  })

  it('SSE: one 100 KB delta is charged 25,600 tokens', async () => {
    const { receipt, text } = await readSse(await get('/sse-big'))
    expect(text.length).toBeGreaterThan(100 * 1024)
    expect(receipt).toMatchObject({ captured: '25600' })
  })

  it('SSE: a delta above the max ends the stream with metered_over_max, unsent (or sent at the max with cap)', async () => {
    const refused = await readSse(await get('/sse-big-default-max'))
    expect(refused.text.length).toBeLessThan(2000)
    expect(refused.events.map((e) => e.event)).toEqual([undefined, 'metered_over_max', 'x402-receipt'])
    expect(JSON.parse(refused.events[1]?.data ?? '{}').message).toContain('max of $0.004096')
    // 4096 tokens reserved at 1 atomic unit each; "hi" sent, 1 token.
    expect(refused.receipt).toMatchObject({ reserved: '4096', captured: '1', reason: 'metered_over_max' })
    const capped = await readSse(await get('/sse-big-cap'))
    expect(capped.text.length).toBeGreaterThan(100 * 1024)
    expect(capped.receipt).toMatchObject({ reserved: '4096', captured: '4096', reason: 'metered_over_max' })
  })

  it('SSE: a final usage chunk replaces the estimate; role-only deltas, keep-alives and [DONE] cost nothing', async () => {
    const openai = await readSse(await get('/sse-usage'))
    expect(openai.text.match(/hello/g)).toHaveLength(3)
    expect(openai.receipt).toMatchObject({ captured: '4' })
    expect(openai.receipt.reason).toBeUndefined()
    const anthropic = await readSse(await get('/sse-anthropic'))
    expect(anthropic.receipt).toMatchObject({ captured: '7' })
  })

  it.each(['/sse-unknown', '/sse-not-json'])(
    'SSE: an event it cannot count (%s) ends the stream with meter_failed, charged what was sent',
    async (path) => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      try {
        const { text, events, receipt } = await readSse(await get(path))
        expect(text).toContain('"text":"ok"')
        expect(text).not.toContain('never')
        expect(events.map((e) => e.event)).toEqual([undefined, 'meter_failed', 'x402-receipt'])
        expect(JSON.parse(events[1]?.data ?? '{}')).toMatchObject({ reason: 'meter_failed' })
        expect(receipt).toMatchObject({ captured: '1', reason: 'meter_failed' })
      } finally {
        warn.mockRestore()
      }
    },
  )

  it('SSE: countTokens, when given, counts every event instead', async () => {
    const { text, receipt } = await readSse(await get('/sse-count'))
    expect(text).toContain('plain words')
    expect(receipt).toMatchObject({ captured: '7' })
    expect(receipt.reason).toBeUndefined()
  })
})

it('meterWhole is for metered prices, and true or false: anything else stops start-up', async () => {
  expect(() => createPaywall({ ...settings, price: 0.01, meterWhole: true } as never)).toThrow(
    /meterWhole is for metered prices/,
  )
  expect(() => createPaywall({ ...settings, pricePerToken: 0.001, meterWhole: 'yes' } as never)).toThrow(/meterWhole/)
  const whole = createPaywall({ ...settings, pricePerToken: 0.001, meterWhole: true, reconcileIntervalMs: 0 })
  expect(whole.config.routes[0]?.meter?.whole).toBe(true)
  await whole.close()
})

it("overMax takes 'refuse' or 'cap': anything else stops start-up, naming the option", () => {
  expect(() => createPaywall({ ...settings, pricePerToken: 0.001, overMax: 'bogus' } as never)).toThrow(
    /overMax is "bogus": give 'refuse' \(the default\) or 'cap'/,
  )
  expect(() => createPaywall({ ...settings, price: 0.01, overMax: 'cap' } as never)).toThrow(
    /overMax is for metered prices/,
  )
  expect(() =>
    createPaywall({ ...settings, routes: { 'GET /a': { pricePerToken: 0.001, overMax: 'Cap' } } } as never),
  ).toThrow(/"GET \/a": overMax is "Cap"/)
  // Next to a routes table it would apply to no route: refused, not ignored.
  expect(() =>
    createPaywall({ ...settings, overMax: 'cap', routes: { 'GET /a': { pricePerToken: 0.001 } } } as never),
  ).toThrow(/overMax next to routes would be ignored/)
})

it("the demo's /api/complete keeps a long prompt's answer within its max: 100 tokens, $0.015", async () => {
  const server = createDemoApi(settings as never).listen(0, '127.0.0.1')
  servers.push(server)
  await new Promise((r) => server.once('listening', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const before = await available()
  const answer = await fetch(`${url}/api/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'word '.repeat(3000) }),
  })
  expect(answer.status).toBe(200)
  expect(((await answer.json()) as { tokens: number }).tokens).toBe(100)
  expect(receiptOf(answer)).toMatchObject({ reserved: '15000', captured: '15000' })
  expect(receiptOf(answer).reason).toBeUndefined()
  expect(await available()).toBe(before - 15_000)
})
