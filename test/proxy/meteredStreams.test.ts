import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createProxy, type PayingProxy, parseProxyConfig } from '402x-api/proxy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Metered streams through `402x proxy`: a caller that reads nothing, an answer past the size
// limit, a per-token stream whose caller asks for no usage, and a price YAML reads as a number.

let stack: Stack
let upstream: Server
let upstreamUrl: string
let settings: ReturnType<Stack['paywall']>
let buyers = 0
/** What the upstream's chat route was sent: the body as bytes, and its Content-Length. */
let chat: { body: string; length: string | undefined } | undefined
/** Bytes the upstream's flood route has written so far; whether its caller went. */
let flood = { written: 0, closed: false }
/** Events the upstream's big route wrote; whether its connection was closed before it ended. */
let big = { events: 0, closed: false }

const event = (body: unknown) => `data: ${JSON.stringify(body)}\n\n`
/** An event that restates the same total (1 token): the stream never uses up its reservation. */
const filler = event({
  choices: [{ delta: { content: '' } }],
  usage: { completion_tokens: 1 },
  pad: 'x'.repeat(16_000),
})

async function app(req: IncomingMessage, res: ServerResponse) {
  let body = ''
  for await (const chunk of req) body += chunk
  const path = req.url ?? '/'
  const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream' })
  if (path === '/v1/chat/completions' || path === '/v1/cheap' || path === '/v1/silent') {
    chat = { body, length: req.headers['content-length'] }
    const request = JSON.parse(body) as { stream?: boolean; stream_options?: { include_usage?: boolean } }
    if (!request.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ choices: [{ message: { content: 'hi' } }], usage: { completion_tokens: 800 } }))
      return
    }
    sse()
    // Hidden reasoning: 800 tokens counted, two words of text shown.
    res.write(event({ choices: [{ delta: { content: 'short' } }] }))
    res.write(event({ choices: [{ delta: { content: 'answer' } }] }))
    // As OpenAI-compatible servers do: the usage chunk only when asked (/v1/silent never sends one).
    if (request.stream_options?.include_usage && path !== '/v1/silent')
      res.write(event({ choices: [], usage: { completion_tokens: 800 } }))
    res.end('data: [DONE]\n\n')
    return
  }
  if (path === '/v1/flood') {
    // As fast as the proxy takes it, up to 64 MB.
    flood = { written: 0, closed: false }
    res.once('close', () => {
      flood.closed = true
    })
    sse()
    while (!flood.closed && flood.written < 64 * 1024 * 1024) {
      flood.written += filler.length
      if (!res.write(filler)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve))
    }
    res.end()
    return
  }
  if (path === '/v1/big') {
    big = { events: 0, closed: false }
    res.once('close', () => {
      big.closed = !res.writableFinished
    })
    sse()
    // One event at a time, so the first goes out before the limit is reached.
    for (; big.events < 8 && !big.closed; big.events++) {
      res.write(filler)
      await sleep(20)
    }
    res.end()
    return
  }
  res.writeHead(404).end()
}

const routes = `
routes:
  'POST /v1/chat/completions': { pricePerToken: 0.00002, max: 0.05 }
  'POST /v1/silent': { pricePerToken: 0.00002, max: 0.05 }
  'GET /v1/flood': { pricePerToken: 0.00002, max: 0.05 }
  'GET /v1/big': { pricePerToken: 0.00002, max: 0.05 }`

/** A `402x.yaml` as a seller writes it, with the stack's settings. */
const yamlFor = (extra: string) =>
  `${Object.entries(settings)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n')}\nupstream: ${upstreamUrl}\n${extra}\n`

/** A proxy from `yaml`, served; `stop()` in `finally`. */
async function serve(yaml: string) {
  const proxy: PayingProxy = createProxy(parseProxyConfig(yaml, 'test.yaml'))
  const server = createServer(proxy.listener)
  const url = await listen(server)
  return {
    url,
    async stop() {
      await close(server)
      await proxy.close()
    },
  }
}

const requirementsOf = (res: Response): PaymentRequirements => {
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED (${res.status})`)
  return decoded.value.accepts[0] as PaymentRequirements
}

async function buyCredit(url: string, amount: string) {
  const target = `${url}/__402x/credits?amount=${amount}`
  const unpaid = await fetch(target, { method: 'POST' })
  const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
  const bought = await fetch(target, {
    method: 'POST',
    headers: { 'payment-signature': signedPayment(buyer, requirementsOf(unpaid)) },
  })
  expect(bought.status).toBe(200)
  return ((await bought.json()) as { token: string }).token
}

/** The credit left on `token`, in dollars, once nothing is reserved (bounded wait). */
async function settledBalance(url: string, token: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${token}` } })
    const { balance } = (await res.json()) as { balance: { available: string; reserved: string } }
    if (Number(balance.reserved) === 0) return balance.available
    await sleep(100)
  }
  throw new Error('the reservation was never settled')
}

/** The events of an SSE body, and its receipt (the last event's data). */
const eventsOf = (text: string) => {
  const events = text.split('\n\n').filter(Boolean)
  const receipt = JSON.parse((events.at(-1) as string).split('data: ')[1] as string) as Record<string, unknown>
  return { events, receipt }
}

beforeAll(async () => {
  stack = await startStack()
  settings = stack.paywall()
  upstream = createServer((req, res) => void app(req, res))
  upstreamUrl = await listen(upstream)
}, 120_000)
afterAll(async () => {
  await close(upstream)
  await stack?.stop()
})

describe('a metered stream', () => {
  it('holds the upstream back while the caller reads nothing (backpressure), within maxResponseBytes', async () => {
    const proxy = await serve(yamlFor(`maxResponseBytes: 1073741824${routes}`))
    const { port } = new URL(proxy.url)
    let socket: ReturnType<typeof connect> | undefined
    try {
      const token = await buyCredit(proxy.url, '0.05')
      socket = connect(Number(port), '127.0.0.1')
      await new Promise<void>((resolve, reject) => {
        socket?.once('connect', resolve).once('error', reject)
      })
      // The caller sends its request and never reads the answer.
      socket.pause()
      socket.write(`GET /v1/flood HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      // Until the upstream stops getting its writes taken (the same count 5 times, 100 ms
      // apart), it reaches its 64 MB, or 10 s pass.
      let last = -1
      let same = 0
      for (let i = 0; i < 100 && same < 5 && flood.written < 64 * 1024 * 1024; i++) {
        await sleep(100)
        same = flood.written === last && flood.written > 0 ? same + 1 : 0
        last = flood.written
      }
      // Socket buffers hold a few MB; without backpressure the proxy takes all 64.
      expect(flood.written).toBeGreaterThan(0)
      expect(flood.written).toBeLessThan(32 * 1024 * 1024)
    } finally {
      socket?.destroy()
      await proxy.stop()
    }
  })

  it('is cut past maxResponseBytes, no more read from the upstream, charged for what its meter sent', async () => {
    const proxy = await serve(yamlFor(`maxResponseBytes: 40000${routes}`))
    try {
      const token = await buyCredit(proxy.url, '0.05')
      const res = await fetch(`${proxy.url}/v1/big`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      // 8 events of 16 KB: the proxy passes on what fits within 40000 bytes, then cuts it.
      const text = await res.text().catch(() => 'cut')
      expect(text.length).toBeLessThan(40_000)
      // The events sent stated 1 token at $0.00002: 20 atomic units of the 50000.
      expect(await settledBalance(proxy.url, token)).toBe('0.04998')
      // The proxy closed the upstream's answer: it did not write all 8 events.
      for (let i = 0; i < 50 && !big.closed; i++) await sleep(20)
      expect(big.closed).toBe(true)
      expect(big.events).toBeLessThan(8)
    } finally {
      await proxy.stop()
    }
  })
})

describe('a per-token stream whose caller asks for no usage', () => {
  it('is sent on asking for the usage (the rest of the body as sent), and charged the usage', async () => {
    const proxy = await serve(yamlFor(`maxRequestBytes: 4096${routes}`))
    try {
      // Each stream reserves the max, $0.05.
      const token = await buyCredit(proxy.url, '0.2')
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      // A seed past 2^53: a JSON round trip would round it.
      const body = '{"model":"m", "seed":18446744073709551615,"stream":true,"messages":[{"content":"é"}]}'
      const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers, body })
      const { receipt } = eventsOf(await res.text())
      // 800 tokens at $0.00002, not the 2 of the text's estimate.
      expect(receipt).toMatchObject({ captured: '16000' })
      const sent = chat as NonNullable<typeof chat>
      expect(sent.body).toBe(
        '{"stream_options":{"include_usage":true},"model":"m", "seed":18446744073709551615,"stream":true,"messages":[{"content":"é"}]}',
      )
      expect(sent.length).toBe(String(Buffer.byteLength(sent.body)))
      // The caller's own stream_options are kept, include_usage set.
      await fetch(`${proxy.url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: '{"stream":true,"stream_options":{"include_usage":false,"other":1}}',
      }).then((r) => r.text())
      expect(chat?.body).toBe('{"stream":true,"stream_options":{"include_usage":true,"other":1}}')
      // Not a stream: sent on as it is.
      const whole = '{"stream":false, "n": 1}'
      await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers, body: whole }).then((r) => r.text())
      expect(chat?.body).toBe(whole)
    } finally {
      await proxy.stop()
    }
  })

  it('is charged the max, with a usage_missing event, when the stream still states no usage', async () => {
    const proxy = await serve(yamlFor(routes))
    try {
      const token = await buyCredit(proxy.url, '0.05')
      const res = await fetch(`${proxy.url}/v1/silent`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"stream":true}',
      })
      const { events, receipt } = eventsOf(await res.text())
      expect(events.some((e) => e.startsWith('event: usage_missing'))).toBe(true)
      expect(receipt).toMatchObject({ captured: '50000', reason: 'usage_missing' })
    } finally {
      await proxy.stop()
    }
  })
})

describe('402x.yaml prices', () => {
  it('takes a price YAML reads as a number in exponent form (0.0000006 is 6e-7), and bills it exactly', async () => {
    const proxy = await serve(yamlFor("routes:\n  'POST /v1/cheap': { pricePerToken: 0.0000006, max: 0.01 }"))
    try {
      const token = await buyCredit(proxy.url, '0.05')
      const res = await fetch(`${proxy.url}/v1/cheap`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      })
      expect(res.status).toBe(200)
      // 800 tokens at $0.0000006: $0.00048.
      expect(JSON.parse(res.headers.get('x-402x-receipt') ?? '{}')).toMatchObject({ captured: '480' })
    } finally {
      await proxy.stop()
    }
  })
})
