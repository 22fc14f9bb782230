import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { withX402 as withX402Fetch } from '402x-api/fetch'
import { x402Middleware as x402Hono } from '402x-api/hono'
import { withX402 as withX402Node } from '402x-api/node'
import express from 'express'
import fc from 'fast-check'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nextFixture } from '../helpers/nextApp.js'
import { rawGet } from '../helpers/rawGet.js'
import { close, listen } from '../helpers/stack.js'

// Issue 15: no spelling of a priced path reaches the priced handler unpaid, on any adapter,
// and no Host header changes what is free. Unpaid requests only: no chain is needed.

const dir = mkdtempSync(join(tmpdir(), '402x-paths-'))
let ledgers = 0
const offline = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${ledgers++}.db`),
  reconcileIntervalMs: 0,
})
const table = { 'GET /premium/*': 0.05, 'GET /report/:id': 0.02 }

/** Each adapter's app: priced handlers count their calls and answer `PRICED`; the rest answer `FREE`. */
type App = { url: string; hits: () => number; stop(): Promise<void> }
type Adapter = {
  name: string
  /** Paths its priced handlers serve (plain spellings). */
  priced: string[]
  start(): Promise<App>
}

const serve = async (server: Server, hits: () => number): Promise<App> => ({
  url: await listen(server),
  hits,
  stop: () => close(server),
})

/**
 * A hand-routed app that calls its priced handler for any reading of the path a router might
 * take (raw, decoded, WHATWG-resolved, both): the most a plain handler could do wrong.
 */
const pricedPattern = /^\/(?:premium(?:\/.*)?|report\/[^/]+\/?)$/i
function readsAsPriced(path: string): boolean {
  const decode = (p: string) => {
    try {
      return decodeURIComponent(p)
    } catch {
      return p
    }
  }
  const url = (p: string) => {
    try {
      return new URL(p, 'http://h').pathname
    } catch {
      return p
    }
  }
  return [path, decode(path), url(path), decode(url(path)), url(decode(path))].some((p) => pricedPattern.test(p))
}

const counter = () => {
  let n = 0
  return { hit: () => n++, hits: () => n }
}

const adapters: Adapter[] = [
  {
    name: 'express',
    priced: ['/premium/a', '/premium/a/b', '/report/q3', '/api/weather/paris'],
    async start() {
      const c = counter()
      const app = express()
      const priced = (_req: unknown, res: express.Response) => {
        c.hit()
        res.type('text').send('PRICED')
      }
      app.use(x402Middleware({ ...offline(), routes: table }))
      // The README's main form: per-route middleware.
      app.get('/api/weather/:city', x402Middleware({ ...offline(), price: 0.01 }), priced)
      app.get('/premium', priced)
      app.get('/premium/{*rest}', priced)
      app.get('/report/:id', priced)
      app.all('/{*rest}', (_req, res) => res.type('text').send('FREE'))
      return serve(createServer(app), c.hits)
    },
  },
  {
    name: 'hono',
    priced: ['/premium/a', '/premium/a/b', '/report/q3', '/api/weather/paris'],
    async start() {
      const c = counter()
      const app = new Hono()
      const priced = (ctx: { text(t: string): Response }) => {
        c.hit()
        return ctx.text('PRICED')
      }
      app.use('*', x402Hono({ ...offline(), routes: table }))
      app.get('/api/weather/:city', x402Hono({ ...offline(), price: 0.01 }), priced)
      app.get('/premium', priced)
      app.get('/premium/*', priced)
      app.get('/report/:id', priced)
      app.all('*', (ctx) => ctx.text('FREE'))
      return serve(createAdaptorServer({ fetch: app.fetch }) as Server, c.hits)
    },
  },
  {
    name: 'fastify',
    priced: ['/premium/a', '/premium/a/b', '/report/q3'],
    async start() {
      const c = counter()
      // The most lenient router settings: more spellings reach the priced handlers.
      const app = Fastify({
        routerOptions: {
          ignoreTrailingSlash: true,
          ignoreDuplicateSlashes: true,
          caseSensitive: false,
        },
        useSemicolonDelimiter: true,
      })
      await app.register(x402Fastify, { ...offline(), routes: table } as never)
      const priced = async () => {
        c.hit()
        return 'PRICED'
      }
      app.get('/premium', priced)
      app.get('/premium/*', priced)
      app.get('/report/:id', priced)
      app.all('/*', async () => 'FREE')
      await app.ready()
      return serve(app.server as Server, c.hits)
    },
  },
  {
    name: 'node',
    priced: ['/premium/a', '/premium/a/b', '/report/q3', '/api/weather/paris'],
    async start() {
      const c = counter()
      const answer = (res: ServerResponse, priced: boolean) => {
        if (priced) c.hit()
        res.writeHead(200, { 'content-type': 'text/plain' }).end(priced ? 'PRICED' : 'FREE')
      }
      const tabled = withX402Node({ ...offline(), routes: table }, (req: IncomingMessage, res: ServerResponse) =>
        answer(res, readsAsPriced((req.url ?? '/').split('?')[0] as string)),
      )
      // A second paywall guarding everything it is given (`{ price }`), as the weather route.
      const single = withX402Node({ ...offline(), price: 0.01 }, (_req, res) => answer(res, true))
      return serve(
        createServer((req, res) => (/^\/api\/weather\//i.test(req.url ?? '') ? single(req, res) : tabled(req, res))),
        c.hits,
      )
    },
  },
  {
    name: 'fetch',
    priced: ['/premium/a', '/premium/a/b', '/report/q3', '/api/weather/paris'],
    async start() {
      const c = counter()
      const answer = (priced: boolean) => {
        if (priced) c.hit()
        return new Response(priced ? 'PRICED' : 'FREE')
      }
      const tabled = withX402Fetch({ ...offline(), routes: table }, (request: Request) =>
        answer(readsAsPriced(new URL(request.url).pathname)),
      )
      const single = withX402Fetch({ ...offline(), price: 0.01 }, () => answer(true))
      const app = (request: Request) =>
        /^\/api\/weather\//i.test(new URL(request.url).pathname) ? single(request) : tabled(request)
      return serve(createAdaptorServer({ fetch: app }) as Server, c.hits)
    },
  },
  {
    name: 'next',
    // The fixture's table (test/fixtures/next-app/paywall.ts) and its `{ price }` route.
    priced: ['/paid', '/items/42', '/files/a/b', '/priced-alone'],
    async start() {
      await next.build()
      const app = await next.start({
        X402_PAY_TO: '0x1111111111111111111111111111111111111111',
        X402_NETWORK: 'eip155:8453',
        X402_FACILITATOR_URL: 'http://127.0.0.1:9',
        X402_DATABASE_URL: join(dir, 'next-ledger.db'),
        X402_STATE_DIR: dir,
      })
      // Another process: the priced handlers' answers (`"ok":true`, a path other than /free) are the counter.
      return { ...app, hits: () => 0 }
    },
  },
]
const next = nextFixture('paths')

/** Whether an answer is a priced handler's (the Next fixture's handlers answer `{ ok: true, path }`). */
const servedPriced = (answer: { status: number; body: string }) =>
  answer.status === 200 && (answer.body.includes('PRICED') || /"ok":true,"path":"\/(?!free")/.test(answer.body))

/** Generated spellings of a priced path: escapes, separators, dot segments, `;` parameters, case. */
const pieces = [
  '%2F',
  '%2f',
  '%5C',
  '%5c',
  '\\',
  '%2e',
  '%2E',
  '.',
  '..',
  '/./',
  '/../',
  '/.',
  '/..',
  '..%2F',
  '%2e%2e%2F',
  '%2e%2e/',
  '.%2e/',
  ';x=y',
  ';',
  '%3B',
  '%252F',
  '%252e%252e',
  '%25',
  '%',
  '%zz',
  '%C0',
  '//',
  '/',
]
const hex = (c: string, lower: boolean) => {
  const h = `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
  return lower ? h.toLowerCase() : h
}
const edit = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), piece: fc.constantFrom(...pieces) }),
  fc.record({ kind: fc.constant('encode' as const), at: fc.nat(), lower: fc.boolean() }),
  fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
)
type Edit =
  | { kind: 'insert'; at: number; piece: string }
  | { kind: 'encode'; at: number; lower: boolean }
  | { kind: 'case'; at: number }
function spell(path: string, edits: Edit[]): string {
  let out = path
  for (const e of edits) {
    const i = 1 + (e.at % Math.max(1, out.length - 1))
    if (e.kind === 'insert') out = out.slice(0, i) + e.piece + out.slice(i)
    else if (e.kind === 'encode' && out[i] !== undefined && out[i] !== '%')
      out = out.slice(0, i) + hex(out[i] as string, e.lower) + out.slice(i + 1)
    else if (e.kind === 'case') out = out.slice(0, i) + (out[i] ?? '').toUpperCase() + out.slice(i + 1)
  }
  return out
}
const spellings = (priced: string[]) =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...priced), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([p, e]) => spell(p, e)),
    // A free path that resolves into a priced one, and a priced one that resolves out of itself.
    fc
      .tuple(
        fc.constantFrom('/free', '/x/y', '/openapi.json'),
        fc.constantFrom('/../', '/..%2F', '/%2e%2e/', '/%2e%2e%2F', '\\..\\', '/..%5C', '/..;/'),
        fc.constantFrom(...priced),
      )
      .map(([f, up, p]) => `${f}${up}${p.slice(1)}`),
    fc
      .tuple(
        fc.constantFrom(...priced),
        fc.constantFrom('/..%2F..%2F', '/%2e%2e%2F', '%2F..%2F..', '/..%2F', '/../', '%2F..'),
        fc.constantFrom('openapi.json', '.well-known/x402', '__402x/credits', 'free', ''),
      )
      .map(([p, up, f]) => `${p}${up}${f}`),
  )

const badHosts = ['a#', 'a?', '', 'a b', 'x'.repeat(300), 'a/b', 'a@b', 'a\\b', '[::1', 'a:b:c', 'a:99999999']
const seed = Number(process.env.X402_PATHS_SEED ?? 15)
const numRuns = Number(process.env.X402_PATHS_RUNS ?? 150)

afterAll(() => {
  next.remove()
  rmSync(dir, { recursive: true, force: true })
})

describe.each(adapters)('$name: spellings of priced paths', (adapter) => {
  let app: App | undefined
  beforeAll(async () => {
    app = await adapter.start()
  }, 240_000)
  afterAll(async () => {
    await app?.stop()
  })

  it('serves the plain priced paths only paid (402), and the free path free', async () => {
    const running = app as App
    for (const path of adapter.priced) expect((await rawGet(running.url, path)).status).toBe(402)
    expect(servedPriced(await rawGet(running.url, '/free'))).toBe(false)
    expect((await rawGet(running.url, '/free')).status).toBe(200)
    expect(running.hits()).toBe(0)
  })

  it('never gives an unpaid request a priced handler’s answer, whatever the spelling', async () => {
    const running = app as App
    console.log(`${adapter.name}: fast-check seed ${seed}, ${numRuns} runs (X402_PATHS_SEED, X402_PATHS_RUNS)`)
    await fc.assert(
      fc.asyncProperty(spellings(adapter.priced), async (target) => {
        const before = running.hits()
        const answer = await rawGet(running.url, target)
        expect({ target, served: servedPriced(answer) || running.hits() !== before }).toEqual({ target, served: false })
        // Next.js redirects some spellings (a backslash to a slash), and resolves some to /__402x/credits (401).
        expect([200, 301, 302, 307, 308, 400, 401, 402, 404, 405, 500]).toContain(answer.status)
      }),
      { seed, numRuns },
    )
  }, 120_000)

  it('never lets the Host header decide (issue 15, case 3)', async () => {
    const running = app as App
    const targets = [
      ...adapter.priced,
      `${adapter.priced[0]}/..%2F..%2Fopenapi.json`,
      '/api/weather/..%2F..%2Fopenapi.json',
    ]
    for (const host of badHosts) {
      for (const target of targets) {
        const answer = await rawGet(running.url, target, host)
        expect({ host, target, served: servedPriced(answer) }).toEqual({ host, target, served: false })
        // A bad Host on a priced path is a 400 on every adapter.
        if (adapter.priced.includes(target))
          expect({ host, target, status: answer.status }).toEqual({ host, target, status: 400 })
      }
    }
    expect(running.hits()).toBe(0)
  }, 60_000)
})

describe('express: issue 15 regressions on the raw request line', () => {
  let app: App | undefined
  beforeAll(async () => {
    app = await (adapters[0] as Adapter).start()
  })
  afterAll(async () => {
    await app?.stop()
  })

  it.each([
    '/report/q3%2F..',
    '/report/%2e%2e',
    '/report/..%2Fq3',
    '/premium/..%2Ffree',
    '/premium/%2e%2e%2Ffree',
    '/premium/x/..%2F..%2Fx',
  ])('refuses %s with 400 ambiguous_path (case 2)', async (target) => {
    const answer = await rawGet((app as App).url, target)
    expect(answer.status).toBe(400)
    expect(answer.body).toContain('"error":"ambiguous_path"')
    expect((app as App).hits()).toBe(0)
  })

  it.each(['a#', 'a?', '', 'a b', 'x'.repeat(300)])(
    'answers Host: %j with 400, never the per-route handler (case 3)',
    async (host) => {
      const answer = await rawGet((app as App).url, '/api/weather/..%2F..%2Fopenapi.json', host)
      expect(answer.status).toBe(400)
      expect(answer.body).not.toContain('PRICED')
      expect((app as App).hits()).toBe(0)
    },
  )

  it('prices the per-route spelling of a discovery path, and serves the document at its exact path', async () => {
    const running = app as App
    expect((await rawGet(running.url, '/api/weather/..%2F..%2Fopenapi.json')).status).toBe(402)
    const docs = await rawGet(running.url, '/openapi.json')
    expect(docs.status).toBe(200)
    expect(docs.body).toContain('"openapi"')
    expect(running.hits()).toBe(0)
  })
})
