import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, SettleResponseSchema } from '@402x/core'
import { createSqliteKeyStore, createSqliteLedger, x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { withX402 as withX402Fetch } from '402x-api/fetch'
import { x402Middleware as x402Hono } from '402x-api/hono'
import { withX402 as withX402Node } from '402x-api/node'
import { createProxy, parseProxyConfig } from '402x-api/proxy'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sseEvents, sseStream, chunks as webChunks } from '../fixtures/next-app/stream.js'
import { fetchServer } from '../helpers/fetchServer.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { hasFlask, startFlaskApp } from '../python/flaskApp.js'

// One table of scenarios, run against every adapter.
const routes = {
  'GET /paid': 0.01,
  'GET /paid-error': 0.01,
  'GET /paid-404': 0.01,
  'POST /paid-large': 0.01,
  'GET /items/:id': 0.01,
  'GET /files/*': 0.01,
  'GET /paid-stream': 0.01,
  'GET /paid-stream-error': 0.01,
  'GET /metered': { pricePerToken: 0.0001, max: 0.001 },
  'GET /metered-sse': { pricePerToken: 0.0001, max: 0.0005 },
}

/** A running app under test: Node servers listen in this process, Next.js runs in its own. */
type Running = { url: string; stop(): Promise<void> }
type Adapter = { name: string; start(options: Record<string, unknown>): Promise<Running> }

const serve = async (server: Server): Promise<Running> => ({ url: await listen(server), stop: () => close(server) })

/** What the streaming routes send, in three chunks over time (see `webChunks`). */
const streamed = 'chunk 1;chunk 2;chunk 3;'
const streaming = (path: string) => path === '/paid-stream' || path === '/paid-stream-error'
/** The metered SSE route: 8 one-token events, more than its $0.0005 maximum covers. */
const sse = (path: string) => path === '/metered-sse'

async function writeSse(res: ServerResponse) {
  res.setHeader('content-type', 'text/event-stream')
  for (const event of sseEvents()) res.write(event)
  res.end()
}
const webSse = () => new Response(sseStream(), { headers: { 'content-type': 'text/event-stream' } })

/** A streaming Node handler: `res.write()` per chunk; `/paid-stream-error` throws after the first. */
async function writeChunks(path: string, res: ServerResponse) {
  res.setHeader('content-type', 'text/plain')
  for await (const chunk of nodeChunks(path)) res.write(chunk)
  res.end()
}

/** The same chunks as a Node stream (Fastify), failing after the first for `/paid-stream-error`. */
function nodeChunks(path: string): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 1; i <= 3; i++) {
        await sleep(20)
        if (i === 2 && path === '/paid-stream-error') throw new Error('stream blew up')
        yield Buffer.from(`chunk ${i};`)
      }
    })(),
  )
}

/** The same chunks as a web `ReadableStream` (fetch, Hono, Next.js). */
const webStream = (path: string) =>
  new Response(webChunks(path === '/paid-stream-error'), { headers: { 'content-type': 'text/plain' } })

/** The same application logic, routed by hand for the adapters that have no router. */
async function answer(method: string, path: string, body: () => Promise<Buffer>) {
  if (path === '/free' || path === '/paid' || path.startsWith('/items/') || path.startsWith('/files/'))
    return { status: 200, json: { ok: true, path } }
  if (path === '/metered') return { status: 200, json: { tokens: 4 } }
  if (path === '/paid-error') throw new Error('handler blew up')
  if (path === '/paid-404') return { status: 404, json: { error: 'no such thing' } }
  if (method === 'POST' && path === '/paid-large') return { status: 200, json: { bytes: (await body()).length } }
  return { status: 404, json: { error: 'not found' } }
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const adapters: Adapter[] = [
  {
    name: 'express',
    async start(options) {
      const app = express()
      app.use(x402Middleware({ ...options, routes }))
      app.all('/{*rest}', async (req, res) => {
        if (sse(req.path)) return writeSse(res)
        if (streaming(req.path)) return writeChunks(req.path, res)
        const out = await answer(req.method, req.path, () => readBody(req))
        res.status(out.status).json(out.json)
      })
      return serve(createServer(app))
    },
  },
  {
    name: 'node',
    async start(options) {
      return serve(
        createServer(
          withX402Node({ ...options, routes }, async (req: IncomingMessage, res: ServerResponse) => {
            const path = (req.url ?? '/').split('?')[0] as string
            if (sse(path)) return writeSse(res)
            if (streaming(path)) return writeChunks(path, res)
            const out = await answer(req.method ?? 'GET', path, () => readBody(req))
            res.writeHead(out.status, { 'content-type': 'application/json' })
            res.end(JSON.stringify(out.json))
          }),
        ),
      )
    },
  },
  {
    name: 'fetch',
    async start(options) {
      return serveFetch(
        withX402Fetch({ ...options, routes }, async (request: Request) => {
          const path = new URL(request.url).pathname
          if (sse(path)) return webSse()
          if (streaming(path)) return webStream(path)
          const out = await answer(request.method, path, async () => Buffer.from(await request.arrayBuffer()))
          return Response.json(out.json, { status: out.status })
        }),
      )
    },
  },
  {
    name: 'hono',
    async start(options) {
      const app = new Hono()
      app.use('*', x402Hono({ ...options, routes }))
      app.all('*', async (c) => {
        if (sse(c.req.path)) return webSse()
        if (streaming(c.req.path)) return webStream(c.req.path)
        const out = await answer(c.req.method, c.req.path, async () => Buffer.from(await c.req.arrayBuffer()))
        return c.json(out.json, out.status as 200)
      })
      return serveFetch((request) => app.fetch(request))
    },
  },
  {
    name: 'fastify',
    async start(options) {
      const app = Fastify({ bodyLimit: 4 * 1024 * 1024 })
      app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
      await app.register(x402Fastify, { ...options, routes } as never)
      app.all('/*', async (request, reply) => {
        const path = request.url.split('?')[0] as string
        if (sse(path)) return reply.type('text/event-stream').send(Readable.from(sseEvents()))
        if (streaming(path)) return reply.type('text/plain').send(nodeChunks(path))
        const out = await answer(request.method, path, async () => (request.body as Buffer) ?? Buffer.alloc(0))
        return reply.code(out.status).send(out.json)
      })
      await app.ready()
      return serve(app.server)
    },
  },
  {
    name: 'next',
    async start(options) {
      await buildNext()
      return startNext(options)
    },
  },
  {
    // `402x proxy` in front of a plain Node server that knows nothing of payments.
    name: 'proxy (Node upstream)',
    async start(options) {
      const upstream = await serve(createServer(plainUpstream))
      return startProxy(options, upstream)
    },
  },
  {
    // The same in front of a Python `http.server` process (test/fixtures/upstream/upstream.py).
    name: 'proxy (Python upstream)',
    async start(options) {
      return startProxy(options, await startPythonUpstream())
    },
  },
  // The Python package (python/) in Flask (test/fixtures/flask-app/conformance.py), asking a
  // `402x gateway` child through the decision service. Skipped, with the reason, without Flask.
  ...(hasFlask()
    ? [
        {
          name: 'flask (decision service)',
          start: (options: Record<string, unknown>) => startFlaskApp(options, flaskApp),
        },
      ]
    : []),
]

const flaskApp = fileURLToPath(new URL('../fixtures/flask-app/conformance.py', import.meta.url))

/** The table's application with no paywall: what an upstream behind `402x proxy` is. */
async function plainUpstream(req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? '/').split('?')[0] as string
  if (sse(path)) return writeSse(res)
  if (streaming(path)) {
    res.setHeader('content-type', 'text/plain')
    try {
      for await (const chunk of nodeChunks(path)) res.write(chunk)
      res.end()
    } catch {
      // A failure midway cuts the connection, as a crashed upstream would.
      res.destroy()
    }
    return
  }
  try {
    const out = await answer(req.method ?? 'GET', path, () => readBody(req))
    res.writeHead(out.status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(out.json))
  } catch {
    res.writeHead(500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'handler blew up' }))
  }
}

/** `createProxy` from a `402x.yaml` with the table's routes, in front of `upstream`. */
async function startProxy(options: Record<string, unknown>, upstream: Running): Promise<Running> {
  const config = parseProxyConfig(JSON.stringify({ ...options, upstream: upstream.url, routes }), 'test')
  const proxy = createProxy(config)
  const server = createServer(proxy.listener)
  const url = await listen(server)
  return {
    url,
    async stop() {
      await close(server)
      await proxy.close()
      await upstream.stop()
    },
  }
}

const pythonUpstream = fileURLToPath(new URL('../fixtures/upstream/upstream.py', import.meta.url))

/** The Python upstream as its own process, on a free port. */
async function startPythonUpstream(): Promise<Running> {
  const child = spawn('python3', [pythonUpstream], { stdio: ['ignore', 'pipe', 'pipe'] })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`upstream.py did not start:\n${output}`)), 10_000)
      const read = (data: Buffer) => {
        output += data.toString()
        const match = /listening (http:\/\/\S+)/.exec(output)
        if (match) {
          clearTimeout(timer)
          resolve(match[1] as string)
        }
      }
      child.stdout.on('data', read)
      child.stderr.on('data', read)
      child.once('exit', (code) => reject(new Error(`upstream.py exited (${code}):\n${output}`)))
    })
    return { url, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** A fetch-style handler served as Bun or Deno would (test/helpers/fetchServer.ts). */
const serveFetch = (handler: (request: Request) => Response | Promise<Response>): Promise<Running> =>
  serve(fetchServer(handler))

const nextApp = fileURLToPath(new URL('../fixtures/next-app', import.meta.url))
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next')
// Each run builds into its own folder, inside the workspace as Next requires, out of git's,
// Biome's and tsc's way; removed after the run.
const nextDist = `../../../node_modules/.cache/402x-next-test-${process.pid}`
const nextEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', TEST_NEXT_DIST_DIR: nextDist }

/** Spawns the `next` CLI on the fixture, keeping what it prints for error messages. */
function spawnNext(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [nextBin, ...args, nextApp], { cwd: nextApp, env, stdio: 'pipe' })
  let output = ''
  child.stdout.on('data', (data: Buffer) => {
    output += data.toString()
  })
  child.stderr.on('data', (data: Buffer) => {
    output += data.toString()
  })
  return { child, output: () => output }
}

/** Resolves when the process prints `pattern`; rejects if it exits first or the time runs out (then kills it). */
function waitFor(next: ReturnType<typeof spawnNext>, pattern: RegExp, timeoutMs: number) {
  return new Promise<RegExpMatchArray>((resolve, reject) => {
    const done = (error?: Error, match?: RegExpMatchArray) => {
      clearTimeout(timer)
      next.child.stdout?.off('data', check)
      next.child.off('exit', exited)
      if (error) reject(error)
      else resolve(match as RegExpMatchArray)
    }
    const check = () => {
      const match = pattern.exec(next.output())
      if (match) done(undefined, match)
    }
    const exited = (code: number | null) =>
      done(new Error(`next ${next.child.spawnargs[2]} exited (${code}):\n${next.output()}`))
    const timer = setTimeout(() => {
      next.child.kill('SIGKILL')
      done(new Error(`next ${next.child.spawnargs[2]} took over ${timeoutMs} ms:\n${next.output()}`))
    }, timeoutMs)
    next.child.stdout?.on('data', check)
    next.child.once('exit', exited)
    check()
  })
}

let nextBuild: Promise<void> | undefined
/** `next build`, once per run (20-40 s on 2 cores). */
const buildNext = () => {
  nextBuild ??= (async () => {
    const build = spawnNext(['build'], nextEnv)
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => build.child.kill('SIGKILL'), 180_000)
      build.child.once('exit', (exitCode) => {
        clearTimeout(timer)
        resolve(exitCode)
      })
    })
    if (code !== 0) throw new Error(`next build failed (${code}):\n${build.output()}`)
  })()
  return nextBuild
}

/** `next start` on a free port, configured through the environment the core reads. */
async function startNext(options: Record<string, unknown>): Promise<Running> {
  const asset = options.asset as { address: string; eip712: { name: string; version: string } }
  const env = {
    ...nextEnv,
    X402_PAY_TO: String(options.payTo),
    X402_NETWORK: String(options.network),
    X402_FACILITATOR_URL: String(options.facilitator),
    X402_DATABASE_URL: String(options.ledger),
    X402_ASSET: asset.address,
    TEST_ASSET_NAME: asset.eip712.name,
    TEST_ASSET_VERSION: asset.eip712.version,
    X402_STATE_DIR: stack.dir,
  }
  const next = spawnNext(['start', '-p', '0', '-H', '127.0.0.1'], env)
  const { child } = next
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    if ((await Promise.race([exited, sleep(5_000, 'timeout')])) === 'timeout') {
      child.kill('SIGKILL')
      await exited
    }
  }
  try {
    const match = await waitFor(next, /Local:\s+(http:\/\/\S+)/, 30_000)
    return { url: match[1] as string, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

let stack: Stack
beforeAll(async () => {
  // The build needs no chain: start it now, it is awaited by the Next.js adapter.
  buildNext().catch(() => {})
  stack = await startStack()
})
afterAll(async () => {
  try {
    await stack?.stop()
  } finally {
    // A build still running (another adapter failed first) is waited for, then removed.
    await nextBuild?.catch(() => {})
    rmSync(join(nextApp, nextDist), { recursive: true, force: true })
    rmSync(join(nextApp, 'next-env.d.ts'), { force: true })
  }
}, 240_000)

/** Sends raw bytes to a server and returns everything it answers (bounded by 10 s). */
function rawRequest(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text))
    let out = ''
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
    socket.on('data', (chunk) => {
      out += chunk.toString()
    })
    socket.on('end', () => resolve(out))
    socket.on('close', () => resolve(out))
    socket.on('error', reject)
  })
}

/** PAYMENT-SIGNATURE headers for a server, each from the next funded buyer. */
function payments(base: () => string) {
  let buyerIndex = 0
  const requirements = async (path: string, method = 'GET', init: RequestInit = {}) => {
    const res = await fetch(`${base()}${path}`, { ...init, method })
    expect(res.status).toBe(402)
    const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
    if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
    return decoded.value.accepts[0]!
  }
  return async (path: string, method = 'GET', priceFrom = path, init: RequestInit = {}) => {
    const buyer = stack.chain.buyers[buyerIndex++ % stack.chain.buyers.length]!
    const payment = createPayment({
      privateKey: buyer.privateKey,
      from: buyer.address,
      requirements: await requirements(priceFrom, method, init),
    })
    return { buyer, header: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } }
  }
}

describe.each(adapters)('$name adapter', (adapter) => {
  let app: Running | undefined
  let url: string
  let ledgerPath: string
  beforeAll(async () => {
    const options = stack.paywall()
    ledgerPath = options.ledger
    app = await adapter.start(options)
    url = app.url
  }, 240_000)
  afterAll(async () => {
    await app?.stop()
  })
  const paymentFor = payments(() => url)

  it('serves a free route without asking for payment', async () => {
    const res = await fetch(`${url}/free`)
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeNull()
  })

  it('answers 402 with PAYMENT-REQUIRED to an unpaid request', async () => {
    const res = await fetch(`${url}/paid`)
    expect(res.status).toBe(402)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect((await res.json()) as object).toMatchObject({ error: 'Payment required', price: '0.01' })
  })

  it('serves a paid request, settles on chain and returns PAYMENT-RESPONSE', async () => {
    const { buyer, header } = await paymentFor('/paid')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/paid`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/paid' })
    const settle = decodeHeader(res.headers.get('payment-response') ?? '', SettleResponseSchema)
    expect(settle.ok && settle.value.success).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it.each([
    ['/paid-error', 500],
    ['/paid-404', 404],
  ])('charges nothing when %s answers %i', async (path, status) => {
    const { buyer, header } = await paymentFor(path)
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}${path}`, { headers: header })
    expect(res.status).toBe(status)
    expect(res.headers.get('payment-response')).toBeNull()
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })

  it('serves a streamed response whole, after it is paid, and charges once', async () => {
    expect((await fetch(`${url}/paid-stream`)).status).toBe(402)
    const { buyer, header } = await paymentFor('/paid-stream')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/paid-stream`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(streamed)
    const settle = decodeHeader(res.headers.get('payment-response') ?? '', SettleResponseSchema)
    expect(settle.ok && settle.value.success).toBe(true)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it('charges nothing when a streamed response fails midway', async () => {
    const { buyer, header } = await paymentFor('/paid-stream-error')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/paid-stream-error`, { headers: header })
    // A proxy answers an upstream that broke off with 502 (Bad Gateway); an app's own handler, 500.
    expect(res.status).toBe(adapter.name.startsWith('proxy') ? 502 : 500)
    expect(res.headers.get('payment-response')).toBeNull()
    // Not even the part produced before the failure reaches the caller: it was not paid for.
    expect(await res.text()).not.toContain('chunk 1')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    // The payment is released at once (not left verified, holding its in-flight lock).
    const ledger = createSqliteLedger({ path: ledgerPath })
    try {
      const rows = (await ledger.list({ limit: 500 })).filter((r) => r.payer === buyer.address.toLowerCase())
      expect(rows[0]).toMatchObject({ state: 'released', reason: 'handler_error' })
    } finally {
      await ledger.close()
    }
  })

  it('refuses a malformed payment header with 400 and a reason', async () => {
    const res = await fetch(`${url}/paid`, { headers: { 'PAYMENT-SIGNATURE': '%%%' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ reason: 'invalid_payload' })
  })

  it('serves a replayed signature once', async () => {
    const { buyer, header } = await paymentFor('/paid')
    const before = await stack.chain.balanceOf(buyer.address)
    expect((await fetch(`${url}/paid`, { headers: header })).status).toBe(200)
    const replay = await fetch(`${url}/paid`, { headers: header })
    expect(replay.status).toBe(402)
    expect(await replay.json()).toMatchObject({ reason: 'invalid_exact_evm_nonce_already_used' })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it('passes a large request body to a paid handler', async () => {
    const { header } = await paymentFor('/paid-large', 'POST')
    const body = Buffer.alloc(1024 * 1024, 7)
    const res = await fetch(`${url}/paid-large`, {
      method: 'POST',
      headers: { ...header, 'content-type': 'application/octet-stream' },
      body,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ bytes: body.length })
  })

  it('never charges HEAD or an OPTIONS preflight', async () => {
    const head = await fetch(`${url}/paid`, { method: 'HEAD' })
    expect(head.status).toBe(402)
    // OPTIONS, preflight or not, is answered without running the paid handler (which here
    // serves every method, like `app.all`).
    for (const headers of [{ 'access-control-request-method': 'GET', origin: 'http://example.com' }, {}]) {
      const options = await fetch(`${url}/paid`, { method: 'OPTIONS', headers })
      expect(options.status).toBe(204)
      expect(options.headers.get('payment-response')).toBeNull()
      expect(await options.text()).toBe('')
    }
  })

  it('sells credit at /__402x/credits and serves from it: fixed, metered, streamed, failed', async () => {
    const { buyer, header } = await paymentFor('/__402x/credits?amount=0.05', 'POST')
    const before = await stack.chain.balanceOf(buyer.address)
    const bought = await fetch(`${url}/__402x/credits?amount=0.05`, { method: 'POST', headers: header })
    expect(bought.status).toBe(200)
    const { token } = (await bought.json()) as { token: string }
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 50_000n)
    const auth = { authorization: `Bearer ${token}` }
    const receipt = (res: Response) => JSON.parse(res.headers.get('x-402x-receipt') ?? 'null')

    const paid = await fetch(`${url}/paid`, { headers: auth })
    expect(paid.status).toBe(200)
    expect(await paid.json()).toEqual({ ok: true, path: '/paid' })
    expect(receipt(paid)).toMatchObject({ captured: '10000', balance: '40000' })

    const failed = await fetch(`${url}/paid-error`, { headers: auth })
    expect(failed.status).toBe(500)
    expect(receipt(failed)).toMatchObject({ captured: '0', balance: '40000', reason: 'handler_error' })

    // Metered: $0.001 reserved, 4 tokens × $0.0001 captured.
    const metered = await fetch(`${url}/metered`, { headers: auth })
    expect(await metered.json()).toEqual({ tokens: 4 })
    expect(receipt(metered)).toMatchObject({ reserved: '1000', captured: '400', returned: '600', balance: '39600' })

    // SSE: 8 events, of which the $0.0005 maximum covers 5; then the final receipt event.
    const stream = await fetch(`${url}/metered-sse`, { headers: auth })
    expect(stream.status).toBe(200)
    const events = (await stream.text()).split('\n\n').filter(Boolean)
    expect(events.filter((e) => e.startsWith('data: {'))).toHaveLength(5)
    expect(events.at(-1)).toMatch(/^event: x402-receipt\ndata: /)
    expect(JSON.parse((events.at(-1) as string).split('data: ')[1] as string)).toMatchObject({
      reserved: '500',
      captured: '500',
      reason: 'metered_over_max',
      balance: '39100',
    })
    const shown = await fetch(`${url}/__402x/credits`, { headers: auth })
    expect(((await shown.json()) as { atomic: object }).atomic).toMatchObject({ available: '39100', reserved: '0' })
  })

  it('prices route patterns with params and wildcards', async () => {
    expect((await fetch(`${url}/items/42`)).status).toBe(402)
    expect((await fetch(`${url}/files/a/b/c.txt`)).status).toBe(402)
    const { buyer, header } = await paymentFor('/files/a/b/c.txt')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/files/a/b/c.txt`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/files/a/b/c.txt' })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it.each(['http://HOST/paid', '/paid#x', '/paid#/../free', 'http://HOST/paid#x'])(
    'does not let the raw target %s slip past the price',
    async (target) => {
      const { host } = new URL(url)
      const line = `GET ${target.replace('HOST', host)} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
      const answer = await rawRequest(url, line)
      // Priced, refused, redirected or not found: anything but the paid content for free.
      expect(Number(answer.split(' ')[1])).not.toBe(200)
      expect(answer).not.toContain('"ok":true')
    },
  )

  it.each(['/PAID', '/paid/', '//paid', '/%70aid', '/free/../paid', '/paid?x=1'])(
    'does not let %s slip past the price',
    async (path) => {
      const res = await fetch(`${url}${path}`)
      // Priced (402), refused as ambiguous (400, `//paid`) or not served at all; never the paid content for free.
      expect([400, 402, 404]).toContain(res.status)
      if (res.status === 404) expect(await res.text()).not.toContain('"ok":true')
    },
  )
})

// What only Next.js has: a proxy in front of route handlers, and rewrites between them.
describe('next: proxy and route handlers', () => {
  let app: Running | undefined
  let url: string
  let ledger: string
  beforeAll(async () => {
    await buildNext()
    const options = stack.paywall()
    ledger = options.ledger
    app = await startNext(options)
    url = app.url
  }, 240_000)
  afterAll(async () => {
    await app?.stop()
  })
  const paymentFor = payments(() => url)

  it('answers in the proxy what needs no payment check, and passes paying requests to the handler', async () => {
    const unpaid = await fetch(`${url}/paid`)
    expect(unpaid.status).toBe(402)
    expect(unpaid.headers.get('x-answered-by')).toBe('proxy')
    const head = await fetch(`${url}/paid`, { method: 'HEAD' })
    expect(head.status).toBe(402)
    expect(head.headers.get('x-answered-by')).toBe('proxy')
    const undecodable = await fetch(`${url}/paid%zz`)
    expect(undecodable.status).toBe(400)
    expect(undecodable.headers.get('x-answered-by')).toBe('proxy')
    expect(await undecodable.json()).toMatchObject({ error: 'invalid_request' })
    // A payment header, even a malformed one, is the route handler's to check.
    const paying = await fetch(`${url}/paid`, { headers: { 'PAYMENT-SIGNATURE': '%%%' } })
    expect(paying.status).toBe(400)
    expect(paying.headers.get('x-answered-by')).toBeNull()
    expect(await paying.json()).toMatchObject({ reason: 'invalid_payload' })
  })

  it('prices from the JSON body in the proxy and in the handler, and charges exactly that', async () => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pages":7}' }
    const unpaid = await fetch(`${url}/pdf`, init)
    expect(unpaid.status).toBe(402)
    expect(unpaid.headers.get('x-answered-by')).toBe('proxy')
    expect(await unpaid.json()).toMatchObject({ price: '0.07', amount: '70000' })
    const { buyer, header } = await paymentFor('/pdf', 'POST', undefined, init)
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/pdf`, { ...init, headers: { ...init.headers, ...header } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, body: { pages: 7 } })
    expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(70000n)
  })

  it('says in the 402 of a path priced for every method that a method its handler lacks is never charged', async () => {
    const del = await fetch(`${url}/any-method`, { method: 'DELETE' })
    expect(del.status).toBe(402)
    expect(del.headers.get('payment-required')).toBeTruthy()
    expect(await del.json()).toMatchObject({ note: expect.stringMatching(/does not serve DELETE, it answers 405/) })
    // A pattern that names its method prices that method only: Next answers the others.
    const named = await fetch(`${url}/paid`, { method: 'DELETE' })
    expect(named.status).toBe(405)
    expect(named.headers.get('x-answered-by')).toBeNull()
  })

  it('takes rate limits and API keys on route handlers, and rateLimit() alone (issue 17)', async () => {
    const limited = [await fetch(`${url}/limited`), await fetch(`${url}/limited`), await fetch(`${url}/limited`)]
    expect(limited.map((r) => r.status)).toEqual([402, 402, 429])
    expect(limited[0]?.headers.get('ratelimit-policy')).toMatch(/^"2-in-1min"/)
    expect(await limited[2]?.json()).toMatchObject({ error: 'rate_limited' })
    const from = { 'x-forwarded-for': '198.51.100.7' }
    const free = [
      await fetch(`${url}/free-limited`, { headers: from }),
      await fetch(`${url}/free-limited`, { headers: from }),
    ]
    expect(free.map((r) => r.status)).toEqual([200, 200])
    expect((await fetch(`${url}/free-limited`, { headers: from })).status).toBe(429)
    expect((await fetch(`${url}/free-limited`, { headers: { 'x-forwarded-for': '198.51.100.8' } })).status).toBe(200)
    expect((await fetch(`${url}/keyed`)).status).toBe(401)
    const store = createSqliteKeyStore({ path: ledger })
    try {
      const { key, record } = await store.create({ name: 'next', plan: 'free', mode: 'test' })
      const served = await fetch(`${url}/keyed`, { headers: { authorization: `Bearer ${key}` } })
      expect(served.status).toBe(200)
      expect(await served.json()).toMatchObject({
        ok: true,
        caller: { kind: 'key', consumer: record.id, plan: 'free' },
      })
      expect((await fetch(`${url}/keyed`, { headers: { 'x-api-key': key } })).status).toBe(200)
      const over = await fetch(`${url}/keyed`, { headers: { authorization: `Bearer ${key}` } })
      expect(over.status).toBe(429)
      expect(await over.json()).toMatchObject({ error: 'quota_exceeded' })
    } finally {
      await store.close()
    }
  })

  it('passes route params (a Promise in Next 15+) to a paid handler', async () => {
    const { header } = await paymentFor('/items/42')
    const res = await fetch(`${url}/items/42`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/items/42' })
  })

  it('charges on a handler wrapped with { price } that the proxy does not price', async () => {
    const { buyer, header } = await paymentFor('/priced-alone')
    const before = await stack.chain.balanceOf(buyer.address)
    const res = await fetch(`${url}/priced-alone`, { headers: header })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, path: '/priced-alone' })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10000n)
  })

  it('never serves a priced handler through a rewrite from a URL the table does not price', async () => {
    const unpaid = await fetch(`${url}/alias-paid`)
    expect(unpaid.status).toBe(500)
    expect(await unpaid.json()).toMatchObject({ error: 'invalid_config' })
    // A payment signed for the handler's own URL does not open it either, and costs nothing.
    const { buyer, header } = await paymentFor('/alias-paid', 'GET', '/paid')
    const before = await stack.chain.balanceOf(buyer.address)
    const paid = await fetch(`${url}/alias-paid`, { headers: header })
    expect(paid.status).toBe(500)
    expect(await paid.text()).not.toContain('"ok":true')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
  })
})
