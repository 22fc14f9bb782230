import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createProxy, type PayingProxy, parseProxyConfig } from '402x-api/proxy'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// What the proxy does beyond the conformance table: what reaches the upstream (and what
// never does), an upstream that fails, streams, metering from the upstream's answer,
// several upstreams, upgrades, limits and a reload.

let stack: Stack
let upstream: Server
let upstreamUrl: string
let other: Server
let otherUrl: string
let proxy: PayingProxy
let server: Server
let url: string
let buyers = 0
/** Every request the main upstream saw: method, path and headers. */
let seen: { method: string; path: string; headers: IncomingMessage['headers'] }[] = []
/** Resolves a request to /slow-stream's second chunk. */
let releaseStream: () => void = () => {}

async function app(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? '/'
  seen.push({ method: req.method ?? 'GET', path, headers: req.headers })
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  if (path.startsWith('/api/data') || path === '/api/keyed' || path === '/free' || path === '/health')
    return json(200, { ok: true, path })
  if (path === '/api/broken') return json(503, { error: 'down for maintenance' })
  if (path === '/api/slow') {
    await sleep(1_500)
    return json(200, { late: true })
  }
  if (path === '/slow-stream') {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first;')
    await new Promise<void>((resolve) => {
      releaseStream = resolve
    })
    res.end('second;')
    return
  }
  if (path === '/v1/chat/completions') {
    const body = JSON.parse(await text(req)) as { stream?: boolean }
    if (!body.stream) return json(200, { choices: [{ message: { content: 'hi' } }], usage: { completion_tokens: 7 } })
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    for (const word of ['a', 'b', 'c'])
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: word } }] })}\n\n`)
    // OpenAI's stream_options.include_usage: the last chunk carries the count.
    res.write(`data: ${JSON.stringify({ choices: [], usage: { completion_tokens: 9 } })}\n\n`)
    res.end('data: [DONE]\n\n')
    return
  }
  if (path === '/api/echo') return json(200, { bytes: (await text(req)).length })
  if (path === '/api/huge') {
    // Chunked, no length given: the proxy finds out as it reads.
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024, 120))
    res.end()
    return
  }
  if (path === '/v1/counted') {
    // The count in a header of the head, before a streamed body.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-usage-tokens': '5' })
    res.write('data: {"text":"one"}\n\n')
    res.end('data: {"text":"two"}\n\n')
    return
  }
  return json(404, { error: 'not found' })
}

const text = async (req: IncomingMessage) => {
  let out = ''
  for await (const chunk of req) out += chunk
  return out
}

const routes = {
  'GET /api/data': 0.01,
  'GET /api/broken': 0.01,
  'GET /api/slow': 0.01,
  'POST /v1/chat/completions': { pricePerToken: 0.0001, max: 0.01 },
  'GET /api/other': { price: 0.01, upstream: 'other' },
  'GET /ws-paid': 0.01,
  'POST /api/echo': 0.01,
  'GET /api/huge': 0.01,
  'GET /v1/counted': { pricePerToken: 0.0001, max: 0.01, usageHeader: 'X-Usage-Tokens' },
  'GET /api/keyed': { price: 0.01, accept: ['key', 'x402'] },
}

/** The stack's settings, one ledger for every proxy of the file (a reload compares them). */
let settings: ReturnType<Stack['paywall']>
function configFor(extra: Record<string, unknown> = {}) {
  return parseProxyConfig(
    JSON.stringify({
      ...settings,
      upstream: upstreamUrl,
      upstreams: { other: otherUrl },
      routes,
      free: ['GET /health'],
      timeoutMs: 500,
      maxRequestBytes: 1024,
      maxResponseBytes: 4096,
      keys: { plans: ['free', { preset: 'tiered', name: 'pro', monthly: 100 }] },
      ...extra,
    }),
    'test',
  )
}

/** Sends a request head as written (then a blank line) and returns all the proxy answers. */
function raw(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(`${head}\r\n\r\n`))
    let out = ''
    socket.on('data', (d) => {
      out += d
    })
    socket.on('close', () => resolve(out))
    socket.on('error', reject)
  })
}

const requirementsOf = (res: Response): PaymentRequirements => {
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED (${res.status})`)
  return decoded.value.accepts[0] as PaymentRequirements
}

async function pay(path: string, init: RequestInit = {}) {
  const unpaid = await fetch(`${url}${path}`, init)
  expect(unpaid.status).toBe(402)
  const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
  return { buyer, header: signedPayment(buyer, requirementsOf(unpaid)) }
}

async function buyCredit(amount: string) {
  const { header } = await pay(`/__402x/credits?amount=${amount}`, { method: 'POST' })
  const bought = await fetch(`${url}/__402x/credits?amount=${amount}`, {
    method: 'POST',
    headers: { 'payment-signature': header },
  })
  expect(bought.status).toBe(200)
  return ((await bought.json()) as { token: string }).token
}

beforeAll(async () => {
  stack = await startStack()
  settings = stack.paywall()
  upstream = createServer((req, res) => void app(req, res))
  upstreamUrl = await listen(upstream)
  other = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ from: 'other', path: req.url }))
  })
  otherUrl = await listen(other)
  proxy = createProxy(configFor())
  server = createServer(proxy.listener)
  server.on('upgrade', proxy.upgrade)
  url = await listen(server)
}, 120_000)
afterAll(async () => {
  await close(server)
  await proxy?.close()
  await close(upstream)
  await close(other)
  await stack?.stop()
})
beforeEach(() => {
  seen = []
})

describe('what reaches the upstream', () => {
  it('calls the upstream only once the payment is verified', async () => {
    expect((await fetch(`${url}/api/data`)).status).toBe(402)
    expect(seen).toHaveLength(0)
    const { buyer, header } = await pay('/api/data')
    const res = await fetch(`${url}/api/data`, { headers: { 'payment-signature': header } })
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeTruthy()
    expect(seen).toHaveLength(1)
    const headers = seen[0]?.headers ?? {}
    // Who called, for the upstream; never the payment itself.
    expect(String(headers['x-402x-consumer']).toLowerCase()).toBe(buyer.address.toLowerCase())
    expect(headers['x-402x-paid']).toMatch(/^0\.01 0x/)
    expect(headers['x-402x-request-id']).toBeTruthy()
    expect(headers['payment-signature']).toBeUndefined()
    expect(headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(headers['x-forwarded-proto']).toBe('http')
    expect(headers['x-forwarded-host']).toBe(new URL(url).host)
    expect(headers.forwarded).toBe(`for=127.0.0.1;proto=http;host="${new URL(url).host}"`)
    expect(headers.host).toBe(new URL(upstreamUrl).host)
  })

  it("removes a caller's tracking and rerouting headers, on free routes too", async () => {
    // Raw, as fetch would not send this Connection header.
    const answer = await raw(
      [
        'GET /free HTTP/1.1',
        `Host: ${new URL(url).host}`,
        'X-402x-Consumer: forged',
        'X-402x-Paid: 100 0xforged',
        'X-HTTP-Method-Override: DELETE',
        'X-Original-URL: /api/data',
        'Connection: close, x-hop',
        'X-Hop: hop-by-hop',
      ].join('\r\n'),
    )
    expect(answer.split(' ')[1]).toBe('200')
    const headers = seen[0]?.headers ?? {}
    for (const name of ['x-402x-consumer', 'x-402x-paid', 'x-http-method-override', 'x-original-url', 'x-hop'])
      expect(headers[name], name).toBeUndefined()
  })

  it('keeps a credit token from the upstream, and the credit pays', async () => {
    const token = await buyCredit('0.05')
    seen = []
    const res = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.headers.get('x-402x-receipt') ?? '{}')).toMatchObject({ captured: '10000' })
    expect(seen[0]?.headers.authorization).toBeUndefined()
    expect(seen[0]?.headers['x-402x-paid']).toBe(`0.01 ${stack.chain.usdc}`)
    expect(seen[0]?.headers['x-402x-consumer']).toMatch(/^acct_|^[0-9a-z_-]+/)
  })

  it('never lets a spelling of a priced path reach the upstream free', async () => {
    for (const path of ['/API/data', '/api//data', '/api/%64ata', '/free/../api/data', '/api/data/']) {
      const res = await fetch(`${url}${path}`)
      expect([400, 402], path).toContain(res.status)
    }
    expect(seen).toHaveLength(0)
  })

  it('serves the free list without asking, and sends a route to its own upstream', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const { header } = await pay('/api/other')
    const res = await fetch(`${url}/api/other`, { headers: { 'payment-signature': header } })
    expect(await res.json()).toEqual({ from: 'other', path: '/api/other' })
  })

  it('lists the proxied routes with their prices in /openapi.json and /.well-known/x402', async () => {
    const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/data', '/v1/chat/completions']))
    expect((await fetch(`${url}/.well-known/x402`)).status).toBe(200)
  })
})

describe('an upstream that fails charges nothing', () => {
  it('a 5xx: the payment is released and pays again later', async () => {
    const { buyer, header } = await pay('/api/broken')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/api/broken`, { headers: { 'payment-signature': header } })
    expect(res.status).toBe(503)
    expect(res.headers.get('payment-response')).toBeNull()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('a timeout: 504, nothing charged', async () => {
    const { buyer, header } = await pay('/api/slow')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/api/slow`, { headers: { 'payment-signature': header } })
    expect(res.status).toBe(504)
    expect(((await res.json()) as { reason: string }).reason).toBe('upstream_timeout')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('an upstream that is down: 502, nothing charged', async () => {
    const down = createProxy(configFor({ upstream: 'http://127.0.0.1:9', upstreams: { other: otherUrl } }))
    const downServer = createServer(down.listener)
    const downUrl = await listen(downServer)
    try {
      const unpaid = await fetch(`${downUrl}/api/data`)
      const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
      const before = await stack.chain.balanceOf(buyer.address)
      const res = await fetch(`${downUrl}/api/data`, {
        headers: { 'payment-signature': signedPayment(buyer, requirementsOf(unpaid)) },
      })
      expect(res.status).toBe(502)
      expect(((await res.json()) as { reason: string }).reason).toBe('upstream_unavailable')
      expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    } finally {
      await close(downServer)
      await down.close()
    }
  })

  it('a request body over the limit: 413 before the upstream is called', async () => {
    const { header } = await pay('/api/echo', { method: 'POST', body: 'x' })
    const res = await fetch(`${url}/api/echo`, {
      method: 'POST',
      headers: { 'payment-signature': header },
      body: 'x'.repeat(2048),
    })
    expect(res.status).toBe(413)
    expect(seen).toHaveLength(0)
  })
})

describe('size limits', () => {
  it('a request body streamed past the limit, with no length given: 413, nothing charged', async () => {
    const { buyer, header } = await pay('/api/echo', { method: 'POST', body: 'x' })
    const before = await stack.chain.balanceOf(buyer.address)
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(512).fill(121))
        controller.close()
      },
    })
    const res = await fetch(`${url}/api/echo`, {
      method: 'POST',
      headers: { 'payment-signature': header },
      body: chunks,
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('a paid answer over maxResponseBytes: 502, none of it sent, nothing charged', async () => {
    const { buyer, header } = await pay('/api/huge')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/api/huge`, { headers: { 'payment-signature': header } })
    expect(res.status).toBe(502)
    expect(await res.text()).not.toContain('xxxx')
    expect(res.headers.get('payment-response')).toBeNull()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })
})

describe('streams and metering', () => {
  it('passes a free stream through as it is produced, not buffered whole', async () => {
    const res = await fetch(`${url}/slow-stream`)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const first = await reader.read()
    // The upstream has not finished yet: the first chunk came through on its own.
    expect(new TextDecoder().decode(first.value)).toBe('first;')
    releaseStream()
    let rest = ''
    for (;;) {
      const next = await reader.read()
      if (next.done) break
      rest += new TextDecoder().decode(next.value)
    }
    expect(rest).toBe('second;')
  })

  it("charges per token from an OpenAI-style upstream's usage, in a JSON answer and in a stream's last chunk", async () => {
    const token = await buyCredit('0.05')
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const whole = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: auth, body: '{}' })
    expect(whole.status).toBe(200)
    // usage.completion_tokens: 7 at $0.0001.
    expect(JSON.parse(whole.headers.get('x-402x-receipt') ?? '{}')).toMatchObject({ captured: '700' })
    const stream = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ stream: true, stream_options: { include_usage: true } }),
    })
    const events = (await stream.text()).split('\n\n').filter(Boolean)
    const receipt = JSON.parse((events.at(-1) as string).split('data: ')[1] as string)
    // The final chunk's usage (9) replaces the estimate.
    expect(receipt).toMatchObject({ captured: '900' })
  })

  it('charges per token from a header the seller names, the body passed on whole', async () => {
    const token = await buyCredit('0.05')
    const res = await fetch(`${url}/v1/counted`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('data: {"text":"one"}\n\ndata: {"text":"two"}\n\n')
    expect(JSON.parse(res.headers.get('x-402x-receipt') ?? '{}')).toMatchObject({ captured: '500' })
  })
})

describe('keys and plans', () => {
  it("serves a key's plan through the proxy, and tells the upstream which plan", async () => {
    expect((await fetch(`${url}/api/keyed`)).status).toBe(402)
    const { key } = await (proxy.paywall.keys as NonNullable<PayingProxy['paywall']['keys']>).create({
      name: 'alice',
      plan: 'pro',
    })
    const res = await fetch(`${url}/api/keyed`, { headers: { 'x-api-key': key } })
    expect(res.status).toBe(200)
    const headers = seen.at(-1)?.headers ?? {}
    expect(headers['x-402x-plan']).toBe('pro')
    // The key is 402x's: the upstream gets who, not the secret.
    expect(headers['x-api-key']).toBeUndefined()
    // So is a key sent as a bearer token, which the paywall takes too.
    const bearer = await fetch(`${url}/api/keyed`, { headers: { authorization: `Bearer ${key}` } })
    expect(bearer.status).toBe(200)
    expect(seen.at(-1)?.headers['x-402x-plan']).toBe('pro')
    expect(seen.at(-1)?.headers.authorization).toBeUndefined()
    // Any other Authorization is the upstream's.
    await fetch(`${url}/free`, { headers: { authorization: 'Bearer upstream-secret' } })
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer upstream-secret')
    const bad = await fetch(`${url}/api/keyed`, { headers: { 'x-api-key': 'x402_test_nope' } })
    expect(bad.status).toBe(401)
  })
})

describe('upgrades', () => {
  it('passes a WebSocket upgrade through on a free route, and refuses one on a priced route', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((resolve) => wss.once('listening', resolve))
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${data}`)))
    const port = (wss.address() as { port: number }).port
    const wsProxy = createProxy(configFor({ upstream: `http://127.0.0.1:${port}` }))
    const wsServer = createServer(wsProxy.listener)
    wsServer.on('upgrade', wsProxy.upgrade)
    const wsUrl = (await listen(wsServer)).replace('http', 'ws')
    try {
      const ws = new WebSocket(`${wsUrl}/socket`)
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hi'))
        ws.once('message', (data) => resolve(String(data)))
        ws.once('error', reject)
      })
      expect(echoed).toBe('echo hi')
      ws.close()
      const status = await new Promise<number>((resolve) => {
        const paid = new WebSocket(`${wsUrl}/ws-paid`)
        paid.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        paid.once('error', () => resolve(-1))
      })
      expect(status).toBe(402)
    } finally {
      await close(wsServer)
      await wsProxy.close()
      await new Promise((resolve) => wss.close(resolve))
    }
  })

  it('answers a raw absolute-form target by its path, never the path as a URL', async () => {
    const { host } = new URL(url)
    const answer = await raw(`GET http://${host}/free HTTP/1.1\r\nHost: ${host}\r\nConnection: close`)
    expect(answer.split(' ')[1]).toBe('200')
    expect(seen[0]?.path).toBe('/free')
  })
})

describe('reload', () => {
  it('applies new prices and upstreams at once, and names the settings that need a restart', async () => {
    const local = createProxy(configFor())
    const localServer = createServer(local.listener)
    const localUrl = await listen(localServer)
    try {
      const price = async (path: string) => {
        const res = await fetch(`${localUrl}${path}`)
        return res.status === 402 ? requirementsOf(res).amount : res.status
      }
      expect(await price('/api/data')).toBe('10000')
      const next = configFor({ routes: { 'GET /api/data': 0.03, 'GET /free': 0.02 } })
      expect(local.reload(next).restartNeeded).toEqual([])
      expect(await price('/api/data')).toBe('30000')
      expect(await price('/free')).toBe('20000')
      const moved = configFor({ payTo: stack.chain.buyers[0]?.address })
      expect(local.reload(moved).restartNeeded).toEqual(['payTo'])
      // A bad route is refused whole: the running table stays.
      expect(() => local.reload(configFor({ routes: { 'GET /api/data': 'lots' } }))).toThrow()
      expect(await price('/api/data')).toBe('10000')
      // So is a bad free path, with the routes it came with: /api/data stays priced.
      expect(() => configFor({ routes: { 'GET /free': 0.02 }, free: ['health'] })).toThrow(/free\[0\]/)
      const badFree = { ...configFor({ routes: { 'GET /free': 0.02 } }), free: ['health'] }
      expect(() => local.reload(badFree)).toThrow()
      expect(await price('/api/data')).toBe('10000')
      expect(await price('/free')).toBe(200)
    } finally {
      await close(localServer)
      await local.close()
    }
  })
})
