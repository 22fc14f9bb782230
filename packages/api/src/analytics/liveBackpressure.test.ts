import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, createServer, get, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { x402Middleware } from '../express/x402Middleware.js'
import type { PaywallOptions } from '../paywall/types.js'
import { liveQueueBytes } from './liveStream.js'

// The dashboard's live stream (GET /__402x/admin/live) on Express, read by a caller that
// stops reading while real requests flow: the server holds a bounded buffer, and when the
// caller reads again every request is either delivered or counted in a `dropped` event.
const token = 'live-backpressure-token'
const dir = mkdtempSync(join(tmpdir(), '402x-live-'))
// Long paths (the event carries the path) make few requests enough.
const longPath = `/api/${'x'.repeat(12_000)}`
const requests = 800 // ~10 MB of events: more than the kernel's socket buffers hold
let server: Server
let middleware: ReturnType<typeof x402Middleware>
let port: number
let live: ServerResponse | undefined
let client: Socket | undefined

beforeAll(async () => {
  const app = express()
  middleware = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    adminToken: token,
    routes: { 'GET /api/*': 0.01 },
  } as PaywallOptions)
  app.use(middleware)
  app.use('/api', (_req, res) => void res.json({ ok: true }))
  server = createServer(app)
  server.on('request', (req, res) => {
    if (req.url === '/__402x/admin/live') live = res
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(async () => {
  client?.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await middleware.paywall.close()
  rmSync(dir, { recursive: true, force: true })
})

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 1_000; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** `count` unpaid requests (each a 402, each one `request` event), a few at a time. */
async function unpaid(count: number, path = longPath) {
  // Its 402 names the long resource in a header: room for it (fetch allows 16 KiB).
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const one = () =>
    new Promise<number>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, agent, maxHeaderSize: 256 * 1024 }, (answer) => {
        answer.resume()
        answer.on('end', () => resolve(answer.statusCode ?? 0))
      }).on('error', reject)
    })
  let next = 0
  const worker = async () => {
    while (next < count) {
      next += 1
      expect(await one()).toBe(402)
    }
  }
  try {
    await Promise.all(Array.from({ length: 8 }, worker))
  } finally {
    agent.destroy()
  }
}

describe('live stream: a reader that does not read', () => {
  it('holds the server to a bounded buffer; read again, each request is delivered or counted as dropped', async () => {
    const socket = connect(port, '127.0.0.1')
    client = socket
    let text = ''
    socket.on('data', (data: Buffer) => {
      text += data.toString('utf8')
    })
    socket.write(`GET /__402x/admin/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    await until(() => text.includes(': connected'), 'the stream to open')
    socket.pause()

    await unpaid(requests)
    const res = live as ServerResponse
    // Batches go out every 50 ms: wait for the writer to be held by the socket.
    await until(() => res.writableNeedDrain, 'the socket to fill')
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    // What Node holds for this answer (its own buffer and its socket's).
    const held = res.writableLength
    expect(held).toBeLessThan(2 * liveQueueBytes)

    // Read again; one more request, which arrives with the count of what was dropped.
    socket.resume()
    await until(() => !res.writableNeedDrain, 'the socket to drain')
    await unpaid(1, '/api/after')
    await until(() => text.includes('"path":"/api/after"'), 'the request after')
    const delivered = text.split('event: request\n').length - 1
    const dropped = [...text.matchAll(/event: dropped\ndata: (\d+)\n/g)].reduce((n, m) => n + Number(m[1]), 0)
    expect(dropped).toBeGreaterThan(0)
    expect(delivered + dropped).toBe(requests + 1)
  }, 120_000)
})
