import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rateLimit, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedisServer } from '../helpers/redisServer.js'
import { redisUrlOrSkip } from '../helpers/services.js'
import { close, createServer, listen } from '../helpers/stack.js'

// Rate limits on Redis through the paywall (issue 17): one limit shared by two instances,
// an outage (a priced route fails closed, a free one open, each logged once) and the
// recovery; the caller's address behind `trust proxy`, IPv6 by /64.
const redisUrl = await redisUrlOrSkip()
const dir = mkdtempSync(join(tmpdir(), '402x-rl-redis-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Paywall settings whose facilitator is never reached (every request here ends before it). */
let ledgers = 0
const offline = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${++ledgers}.db`),
  reconcileIntervalMs: 0,
})

async function serve(app: express.Express) {
  const server = createServer(app)
  const url = await listen(server)
  return { url, stop: () => close(server) }
}

describe.skipIf(!redisUrl)('rate limits on Redis', () => {
  it('is one limit for every instance that shares it: the second process sees the first one’s calls', async () => {
    const prefix = `test-${randomUUID()}`
    const apps = [] as { url: string; stop(): Promise<void>; close(): Promise<void> }[]
    try {
      for (let i = 0; i < 2; i++) {
        const app = express()
        const middleware = x402Middleware({
          ...offline(),
          stores: { rateLimits: redisUrl as string },
          routes: {
            'GET /shared': {
              price: 0.01,
              rateLimit: { maxRequests: 3, windowMs: 60_000, prefix, countRejected: true },
            },
          },
        })
        app.use(middleware)
        app.get('/shared', (_req, res) => void res.json({ ok: true }))
        apps.push({ ...(await serve(app)), close: () => middleware.paywall.close() })
      }
      const statuses = []
      for (const i of [0, 1, 0, 1]) statuses.push((await fetch(`${apps[i]?.url}/shared`)).status)
      expect(statuses).toEqual([402, 402, 402, 429])
    } finally {
      for (const app of apps) {
        await app.stop()
        await app.close()
      }
    }
  })

  it('fails a priced route closed (503, never charged) and a free route open while Redis is down, logged once, and recovers', async () => {
    const redis = await startRedisServer()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const app = express()
    const middleware = x402Middleware({
      ...offline(),
      stores: { rateLimits: redis.url },
      routes: { 'GET /paid': { price: 0.01, rateLimit: { maxRequests: 100, windowMs: 60_000 } } },
    })
    app.get('/free', rateLimit({ maxRequests: 100, windowMs: 60_000, store: redis.url }), (_req, res) => {
      res.json({ ok: true })
    })
    app.use(middleware)
    app.get('/paid', (_req, res) => void res.json({ secret: 42 }))
    const running = await serve(app)
    try {
      expect((await fetch(`${running.url}/paid`)).status).toBe(402)
      expect((await fetch(`${running.url}/free`)).headers.get('ratelimit')).toMatch(/r=99/)
      await redis.stop()
      for (let i = 0; i < 3; i++) {
        const paid = await fetch(`${running.url}/paid`)
        expect(paid.status).toBe(503)
        expect(paid.headers.get('retry-after')).toBeTruthy()
        const body = await paid.text()
        expect(body).not.toContain('secret')
        expect(JSON.parse(body)).toMatchObject({ error: 'store_unavailable' })
        const free = await fetch(`${running.url}/free`)
        expect(free.status).toBe(200)
        expect(free.headers.get('ratelimit')).toBeNull()
      }
      const outageLines = warn.mock.calls.filter((c) => String(c[0]).includes('cannot answer'))
      // One line per store and outage: the paywall and rateLimit() share the one client of this URL.
      expect(outageLines).toHaveLength(1)
      await redis.start()
      let back = 0
      for (let i = 0; i < 40 && back !== 402; i++) {
        back = (await fetch(`${running.url}/paid`)).status
        if (back !== 402) await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(back).toBe(402)
      expect(warn.mock.calls.some((c) => String(c[0]).includes('answers again'))).toBe(true)
    } finally {
      warn.mockRestore()
      await running.stop()
      await middleware.paywall.close()
      await redis.stop()
    }
  })
})

describe('the caller counted behind trust proxy, IPv6 by /64', () => {
  let url: string
  let stop: () => Promise<void>
  beforeAll(async () => {
    const app = express()
    app.set('trust proxy', true)
    app.get('/limited', rateLimit({ maxRequests: 2, windowMs: 60_000 }), (_req, res) => void res.json({ ok: true }))
    ;({ url, stop } = await serve(app))
  })
  afterAll(() => stop())
  const from = (ip: string) => fetch(`${url}/limited`, { headers: { 'x-forwarded-for': ip } })

  it('counts every address of one /64 as one caller, and another /64 apart', async () => {
    expect((await from('2001:db8:1:2::1')).status).toBe(200)
    expect((await from('2001:db8:1:2:ffff::9')).status).toBe(200)
    expect((await from('2001:db8:1:2:abcd::7')).status).toBe(429)
    expect((await from('2001:db8:1:3::1')).status).toBe(200)
  })

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    expect((await from('203.0.113.7')).status).toBe(200)
    expect((await from('::ffff:203.0.113.7')).status).toBe(200)
    expect((await from('::ffff:cb00:7107')).status).toBe(429)
  })
})

describe('without trust proxy', () => {
  it('ignores X-Forwarded-For: a caller cannot name another address to slip the limit', async () => {
    const app = express()
    app.get('/limited', rateLimit({ maxRequests: 1, windowMs: 60_000 }), (_req, res) => void res.json({ ok: true }))
    const running = await serve(app)
    try {
      expect((await fetch(`${running.url}/limited`, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(
        200,
      )
      expect((await fetch(`${running.url}/limited`, { headers: { 'x-forwarded-for': '198.51.100.2' } })).status).toBe(
        429,
      )
    } finally {
      await running.stop()
    }
  })
})
