import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, createServer as createTcpServer } from 'node:net'
import { gzipSync } from 'node:zlib'
import { decodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createProxy, type PayingProxy, parseProxyConfig } from '402x-api/proxy'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { signedPayment } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Adversarial review of `402x proxy`: can a caller get a priced answer of the upstream
// without paying, or change what the upstream is told about who paid? Each test sends
// real requests (raw bytes where fetch would tidy them) through a real proxy to a real
// upstream. The upstream routes paths leniently, as real servers do: Tomcat, Jetty and
// Spring drop `;` parameters from each segment before resolving dot segments, and every
// method reaches its handler (a plain Node handler, `app.all`).

let stack: Stack
let upstream: Server
let upstreamUrl: string
let proxy: PayingProxy
let server: Server
let url: string
let buyers = 0
/** Every request the upstream saw, and the path it routed it as. */
let seen: { method: string; target: string; routed: string; headers: IncomingMessage['headers']; raw: string[] }[] = []

/** The path as Tomcat routes it: `;params` dropped per segment, decoded, dot segments resolved. */
function tomcatPath(target: string): string {
  const path = (target.split('?')[0] as string).replace(/^[a-z]+:\/\/[^/]*/i, '')
  const out: string[] = []
  for (const raw of path.split('/')) {
    let segment = raw.split(';')[0] as string
    try {
      segment = decodeURIComponent(segment)
    } catch {}
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return `/${out.join('/')}`
}

function app(req: IncomingMessage, res: ServerResponse) {
  const routed = tomcatPath(req.url ?? '/')
  seen.push({ method: req.method ?? 'GET', target: req.url ?? '/', routed, headers: req.headers, raw: req.rawHeaders })
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  req.resume()
  if (routed === '/api/data') return json(200, { secret: 'paid content', consumer: req.headers['x-402x-consumer'] })
  if (routed === '/health' || routed.startsWith('/public')) return json(200, { ok: true, routed })
  return json(404, { error: 'not found' })
}

const routes = { 'GET /api/data': 0.01, 'DELETE /api/item': 0.01 }
let settings: ReturnType<Stack['paywall']>
const configFor = (upstreamUrl: string) =>
  parseProxyConfig(
    JSON.stringify({ ...settings, upstream: upstreamUrl, routes, free: ['GET /health', '/public/*'], timeoutMs: 2000 }),
    'test',
  )

/**
 * Writes `chunks` to the proxy on one connection, `gapMs` apart (so each can be answered
 * before the next), and returns everything it answered until it closed, or `waitMs` after
 * the last write.
 */
function rawSend(chunks: string[], { gapMs = 150, waitMs = 800, to = url } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port, hostname } = new URL(to)
    const socket = connect(Number(port), hostname)
    let out = ''
    let timer: NodeJS.Timeout | undefined
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(out)
    }
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1')
    })
    socket.on('close', done)
    socket.on('error', (error) => (out ? done() : reject(error)))
    socket.once('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs))
        if (socket.destroyed) return
        socket.write(chunk)
      }
      timer = setTimeout(done, waitMs)
    })
  })
}

const host = () => new URL(url).host
const requirementsOf = (res: Response): PaymentRequirements => {
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED (${res.status})`)
  return decoded.value.accepts[0] as PaymentRequirements
}
/** What the upstream routed to its paid handler. */
const reachedPaid = () => seen.filter((s) => s.routed === '/api/data' || s.routed === '/api/item')

beforeAll(async () => {
  stack = await startStack()
  settings = stack.paywall()
  upstream = createServer(app)
  upstreamUrl = await listen(upstream)
  proxy = createProxy(configFor(upstreamUrl))
  server = createServer(proxy.listener)
  server.on('upgrade', proxy.upgrade)
  url = await listen(server)
}, 120_000)
afterAll(async () => {
  await close(server)
  await proxy?.close()
  await close(upstream)
  await stack?.stop()
})
beforeEach(() => {
  seen = []
})

describe('findings (fixed)', () => {
  it('an upgrade on a free route does not open a tunnel to priced paths when the upstream does not switch', async () => {
    // A plain HTTP upstream (no WebSocket there) answers the upgrade request as a normal
    // request and keeps the connection: the proxy used to pipe the caller's socket to it
    // raw, so the next request on that socket reached the upstream with no paywall.
    const answer = await rawSend([
      `GET /health HTTP/1.1\r\nHost: ${host()}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      `GET /api/data HTTP/1.1\r\nHost: ${host()}\r\n\r\n`,
    ])
    expect(answer).toMatch(/^HTTP\/1\.1 200/)
    expect(answer).not.toContain('paid content')
    expect(reachedPaid()).toEqual([])
  })

  it('bytes sent with an upgrade request before the upstream switched are not passed on', async () => {
    // The same, pipelined in one write (Node hands the bytes after the head to the upgrade),
    // to an upstream that reads every request on its connection, as keep-alive servers do.
    const lines: string[] = []
    const plain = createTcpServer((socket) => {
      let buffered = ''
      socket.on('data', (d: Buffer) => {
        buffered += d.toString('latin1')
        let end = buffered.indexOf('\r\n\r\n')
        while (end !== -1) {
          const line = buffered.slice(0, buffered.indexOf('\r\n'))
          buffered = buffered.slice(end + 4)
          lines.push(line)
          const body = line.includes('/api/data') ? 'paid content' : 'ok'
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
          end = buffered.indexOf('\r\n\r\n')
        }
      })
    })
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
    const plainProxy = createProxy(configFor(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`))
    const plainServer = createServer(plainProxy.listener).on('upgrade', plainProxy.upgrade)
    const plainUrl = await listen(plainServer)
    try {
      const h = new URL(plainUrl).host
      const answer = await rawSend(
        [
          `GET /health HTTP/1.1\r\nHost: ${h}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /api/data HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        ],
        { to: plainUrl },
      )
      expect(answer).toMatch(/^HTTP\/1\.1 200/)
      expect(answer).not.toContain('paid content')
      expect(lines).toEqual(['GET /health HTTP/1.1'])
    } finally {
      await close(plainServer)
      await plainProxy.close()
      await new Promise((resolve) => plain.close(resolve))
    }
  })

  it('refuses an h2c upgrade: HTTP/2 on the tunnel would reach every path unpaid', async () => {
    // An upstream that speaks h2c (Go's h2c handler, Envoy, Jetty) answers 101 and then
    // serves HTTP/2 requests for any path on that connection, past the paywall.
    const answer = await rawSend([
      `GET /health HTTP/1.1\r\nHost: ${host()}\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
    ])
    expect(answer).toMatch(/^HTTP\/1\.1 400/)
    expect(answer).toContain('upgrade_refused')
    expect(seen).toEqual([])
  })

  it('the free list does not take a `..;` segment (Tomcat and Spring read it as `..`)', async () => {
    // `/public/..;/api/data` matched the free `/public/*`, went on as it was, and an upstream
    // that drops `;` parameters routed it as /api/data: the priced answer, unpaid.
    for (const target of ['/public/..;/api/data', '/public/x/..;/..;/api/data', '/health;/../api/data']) {
      const answer = await rawSend([`GET ${target} HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`])
      expect(answer, target).not.toContain('paid content')
      expect(answer.slice(9, 12), target).toMatch(/400|402/)
    }
    expect(reachedPaid()).toEqual([])
  })

  it("a caller's Connection header cannot strip the tracking headers the paywall adds", async () => {
    // Connection-listed names are hop-by-hop, and the proxy dropped them after the paywall
    // had set X-402x-Consumer and X-402x-Paid: the upstream lost who paid.
    const unpaid = await fetch(`${url}/api/data`)
    const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
    const payment = signedPayment(buyer, requirementsOf(unpaid))
    const answer = await rawSend([
      `GET /api/data HTTP/1.1\r\nHost: ${host()}\r\nPayment-Signature: ${payment}\r\nConnection: close, x-402x-consumer, X-402x-Paid, x-402x-request-id\r\n\r\n`,
    ])
    expect(answer).toMatch(/^HTTP\/1\.1 200/)
    const headers = seen[0]?.headers ?? {}
    expect(String(headers['x-402x-consumer']).toLowerCase()).toBe(buyer.address.toLowerCase())
    expect(headers['x-402x-paid']).toMatch(/^0\.01 0x/)
    expect(headers['x-402x-request-id']).toBeTruthy()
  })
})

describe('a compressing upstream and metered prices', () => {
  // The meter counts the answer as the upstream sends it. A caller's `Accept-Encoding: gzip`
  // (fetch sends it by default) made a compressing upstream (Express's compression, nginx's
  // gzip, FastAPI's GZipMiddleware) send gzip: a per-KB price counted the compressed bytes
  // (here 100 kB billed as 22 atomic units instead of 10000), and a per-token price could not
  // read the `usage` (500 meter_failed for every such caller).
  it('counts the uncompressed answer, whatever the caller accepts; an upstream that compresses anyway is charged nothing', async () => {
    const chat = JSON.stringify({ choices: [{ message: { content: 'hello' } }], usage: { completion_tokens: 1000 } })
    const file = 'abcdefgh'.repeat(12_500)
    const zipping = createServer((req, res) => {
      const always = req.url?.includes('always')
      const gzip = always || /gzip/.test(String(req.headers['accept-encoding'] ?? ''))
      const body = req.url?.startsWith('/v1') ? chat : file
      res.writeHead(200, {
        'content-type': req.url?.startsWith('/v1') ? 'application/json' : 'text/plain',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      })
      res.end(gzip ? gzipSync(body) : body)
    })
    const config = parseProxyConfig(
      JSON.stringify({
        ...settings,
        upstream: await listen(zipping),
        routes: {
          'POST /v1/chat': { pricePerToken: 0.00001, max: 0.05 },
          'GET /files/*': { pricePerKb: 0.0001, max: 0.1 },
        },
      }),
      'test',
    )
    const zipProxy = createProxy(config)
    const zipServer = createServer(zipProxy.listener)
    const zipUrl = await listen(zipServer)
    try {
      const unpaid = await fetch(`${zipUrl}/__402x/credits?amount=1`, { method: 'POST' })
      const buyer = stack.chain.buyers[buyers++ % stack.chain.buyers.length]!
      const bought = await fetch(`${zipUrl}/__402x/credits?amount=1`, {
        method: 'POST',
        headers: { 'payment-signature': signedPayment(buyer, requirementsOf(unpaid)) },
      })
      const { token } = (await bought.json()) as { token: string }
      const headers = { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' }
      const captured = (res: Response) => JSON.parse(res.headers.get('x-402x-receipt') ?? '{}').captured
      const files = await fetch(`${zipUrl}/files/big`, { headers })
      expect(files.status).toBe(200)
      expect((await files.text()).length).toBe(100_000)
      // 100 kB at $0.0001 per 1000 bytes: $0.01.
      expect(captured(files)).toBe('10000')
      const tokens = await fetch(`${zipUrl}/v1/chat`, { method: 'POST', headers, body: '{}' })
      expect(tokens.status).toBe(200)
      expect(captured(tokens)).toBe('10000')
      const compressed = await fetch(`${zipUrl}/files/always`, { headers })
      expect(compressed.status).toBe(502)
      expect(captured(compressed)).toBe('0')
    } finally {
      await close(zipServer)
      await zipProxy.close()
      await close(zipping)
    }
  })
})

describe('findings (recorded)', () => {
  // A format suffix: Rails routes `/api/data.json` to the `GET /api/data` action
  // (`(.:format)` on every route), as Spring MVC did with suffix matching. The paywall
  // prices `/api/data` only, so through the proxy `/api/data.json` reaches such an upstream
  // unpaid. Not fixed: pricing `<route>.<ext>` changes what a route covers for every
  // adapter (a seller may serve `/api/data.csv` free on purpose); the seller can price
  // `GET /api/data.:format` too. This upstream reads the suffix as Rails does.
  it.fails('prices a Rails-style format suffix of a priced route', async () => {
    const rails = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]?.replace(/\.[a-z0-9]+$/i, '')
      res.writeHead(path === '/api/data' ? 200 : 404, { 'content-type': 'application/json' })
      res.end(JSON.stringify(path === '/api/data' ? { secret: 'paid content' } : { error: 'not found' }))
    })
    const railsProxy = createProxy(configFor(await listen(rails)))
    const railsServer = createServer(railsProxy.listener)
    const railsUrl = await listen(railsServer)
    try {
      const res = await fetch(`${railsUrl}/api/data.json`)
      expect(await res.text()).not.toContain('paid content')
      expect(res.status).toBe(402)
    } finally {
      await close(railsServer)
      await railsProxy.close()
      await close(rails)
    }
  })
})

describe('what holds', () => {
  it('pipelined requests on one connection are each priced: a free one first does not open the way', async () => {
    const h = host()
    const answer = await rawSend(
      [
        `GET /health HTTP/1.1\r\nHost: ${h}\r\n\r\nGET /api/data HTTP/1.1\r\nHost: ${h}\r\n\r\nHEAD /api/data HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`,
      ],
      { waitMs: 3000 },
    )
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    expect(statuses).toEqual(['200', '402', '402'])
    expect(answer).not.toContain('paid content')
    expect(seen.map((s) => s.routed)).toEqual(['/health'])
  })

  it('request smuggling: conflicting framing is refused by the parser, and a body is re-framed, never read as a request', async () => {
    const h = host()
    const refused = [
      // CL.TE and TE.CL: both framings at once.
      `POST /public/x HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/data HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
      // Two lengths.
      `POST /public/x HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /api/data HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
      // obs-fold, a space before the colon, a bare LF.
      `GET /public/x HTTP/1.1\r\nHost: ${h}\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`,
      `POST /public/x HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
      `GET /public/x HTTP/1.1\nHost: ${h}\nX: 1\r\n\r\n`,
      // A transfer coding other than chunked last.
      `POST /public/x HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    ]
    for (const request of refused) {
      const answer = await rawSend([request])
      expect(answer, JSON.stringify(request)).toMatch(/^HTTP\/1\.1 400/)
    }
    expect(seen).toEqual([])
    // Accepted framing: the body goes on as a body (undici's own framing), one request.
    const smuggled = `GET /api/data HTTP/1.1\r\nHost: ${h}\r\n\r\n`
    const chunked = `POST /public/x HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`
    expect(await rawSend([chunked])).toMatch(/^HTTP\/1\.1 200/)
    // A GET with a body: the body is not sent on, and no Content-Length that would make the
    // upstream wait for it (and read the next request on the pooled connection as its body).
    const getBody = `GET /public/y HTTP/1.1\r\nHost: ${h}\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled}`
    expect(await rawSend([getBody])).toMatch(/^HTTP\/1\.1 200/)
    expect(seen.map((s) => `${s.method} ${s.routed}`)).toEqual(['POST /public/x', 'GET /public/y'])
    expect(seen[1]?.headers['content-length']).toBeUndefined()
  })

  it('spellings of a priced path never reach the upstream unpaid: encodings, `;`, dots, slashes, absolute form, long paths', async () => {
    const targets = [
      '/api/data;x',
      '/api/data;',
      '/api/data%3b',
      '/api/%64ata',
      '/api%2fdata',
      '/api/data%2f',
      '/api/data/.',
      '/./api/data',
      '/public/%2e%2e/api/data',
      '/public/%252e%252e/api/data',
      '/public\\..\\api\\data',
      '//api/data',
      '/api//data',
      '/API/DATA',
      '/api/data/',
      '/api/data?x=1',
      '/api/data#frag',
      `http://evil.example/api/data`,
      `HTTP://${host()}/api/data`,
      `/public/${'a/'.repeat(1100)}${'../'.repeat(1101)}api/data`,
    ]
    for (const target of targets) {
      const answer = await rawSend([`GET ${target} HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`])
      expect(answer.slice(9, 12), target.slice(0, 60)).toMatch(/400|402/)
    }
    // `*` and authority-form targets are not paths: refused, never sent on.
    for (const head of ['OPTIONS * HTTP/1.1', `CONNECT ${host()} HTTP/1.1`, `GET ${host()}/api/data HTTP/1.1`]) {
      const answer = await rawSend([`${head}\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`])
      expect(answer, head).not.toMatch(/^HTTP\/1\.1 [23]/)
    }
    expect(reachedPaid()).toEqual([])
  })

  it("a caller's Expect: 100-continue is answered by the proxy, and the request served (not a 502)", async () => {
    const h = host()
    const answer = await rawSend(
      [
        `POST /public/upload HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
        'hello',
      ],
      { waitMs: 3000 },
    )
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/)
    expect(seen.map((s) => `${s.method} ${s.routed}`)).toEqual(['POST /public/upload'])
    expect(seen[0]?.headers.expect).toBeUndefined()
  })

  it('HEAD and OPTIONS on a priced route are answered by the paywall; method overrides are not sent on', async () => {
    expect((await fetch(`${url}/api/data`, { method: 'HEAD' })).status).toBe(402)
    expect((await fetch(`${url}/api/data`, { method: 'OPTIONS' })).status).toBe(204)
    expect((await fetch(`${url}/api/item`, { method: 'OPTIONS' })).status).toBe(204)
    const overrides = {
      'X-HTTP-Method-Override': 'DELETE',
      'X-HTTP-Method': 'DELETE',
      'X-Method-Override': 'DELETE',
      'X-Original-URL': '/api/data',
      'X-Rewrite-URL': '/api/data',
      'X-Original-Method': 'DELETE',
    }
    await fetch(`${url}/public/x`, { method: 'POST', headers: overrides, body: '' })
    expect(seen).toHaveLength(1)
    for (const name of Object.keys(overrides)) expect(seen[0]?.headers[name.toLowerCase()], name).toBeUndefined()
    expect(reachedPaid()).toEqual([])
  })

  it('forged tracking headers in any letter case are removed, and the upstream gets its own Host', async () => {
    const answer = await rawSend([
      `GET /health HTTP/1.1\r\nHost: ${host()}\r\nX-402X-CONSUMER: 0xforged\r\nx-402x-paid: 100 0xforged\r\nX-402x-Plan: pro\r\nX-402X-Request-Id: forged\r\nConnection: close\r\n\r\n`,
    ])
    expect(answer).toMatch(/^HTTP\/1\.1 200/)
    const headers = seen[0]?.headers ?? {}
    for (const name of ['x-402x-consumer', 'x-402x-paid', 'x-402x-plan', 'x-402x-request-id'])
      expect(headers[name], name).toBeUndefined()
    expect(headers.host).toBe(new URL(upstreamUrl).host)
  })
})

describe('a WSGI upstream (wsgiref) reads `_` as `-` in header names', () => {
  // Python's wsgiref (like CGI, PHP and Puma before CVE-2024-45614) puts `X_402x_Consumer`
  // and `X-402x-Consumer` in the same `HTTP_X_402X_CONSUMER`; so it does with
  // `X_HTTP_Method_Override`, which WSGI method-override middleware reads from
  // `HTTP_X_HTTP_METHOD_OVERRIDE`. The proxy removed only the `-` spellings.
  let python: ChildProcess | undefined
  let wsgiProxy: PayingProxy | undefined
  let wsgiServer: Server | undefined
  let wsgiUrl = ''
  const script = `
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
def app(environ, start):
    method = environ['REQUEST_METHOD']
    if method == 'POST' and environ.get('HTTP_X_HTTP_METHOD_OVERRIDE'):
        method = environ['HTTP_X_HTTP_METHOD_OVERRIDE'].upper()
    path = environ.get('PATH_INFO')
    if method == 'DELETE' and path == '/api/item':
        body = {'secret': 'paid content: deleted'}
    else:
        body = {'consumer': environ.get('HTTP_X_402X_CONSUMER'), 'paid': environ.get('HTTP_X_402X_PAID')}
    start('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(body).encode()]
server = make_server('127.0.0.1', 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`
  beforeAll(async () => {
    python = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('wsgiref did not start within 10 s')), 10_000)
      python?.stdout?.once('data', (d: Buffer) => {
        clearTimeout(timer)
        resolve(d.toString().trim())
      })
      python?.once('error', reject)
    })
    wsgiProxy = createProxy(configFor(`http://127.0.0.1:${port}`))
    wsgiServer = createServer(wsgiProxy.listener)
    wsgiUrl = await listen(wsgiServer)
  }, 30_000)
  afterAll(async () => {
    await close(wsgiServer)
    await wsgiProxy?.close()
    python?.kill()
  })

  it('a forged X_402x_Consumer or X_402x_Paid does not reach the upstream', async () => {
    const { host: h } = new URL(wsgiUrl)
    const answer = await rawSend(
      [
        `GET /health HTTP/1.1\r\nHost: ${h}\r\nX_402x_Consumer: 0xforged\r\nX_402X_PAID: 100 0xforged\r\nConnection: close\r\n\r\n`,
      ],
      { to: wsgiUrl, waitMs: 3000 },
    )
    expect(answer).toMatch(/^HTTP\/1\.[01] 200/)
    expect(answer).toContain('"consumer": null')
    expect(answer).toContain('"paid": null')
  })

  it('an X_HTTP_Method_Override cannot turn a free POST into the priced DELETE', async () => {
    const { host: h } = new URL(wsgiUrl)
    const answer = await rawSend(
      [
        `POST /api/item HTTP/1.1\r\nHost: ${h}\r\nX_HTTP_Method_Override: DELETE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      ],
      { to: wsgiUrl, waitMs: 3000 },
    )
    expect(answer).not.toContain('paid content')
  })
})
