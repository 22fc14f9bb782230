import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type Paywall, plans, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { startRedisServer } from '../helpers/redisServer.js'
import { redisUrlOrSkip } from '../helpers/services.js'
import { close, createServer, listen } from '../helpers/stack.js'

// What a call on an API key guarantees on the Node adapters, where a key seen before is served
// from memory (docs/api-keys.md, "What a key call guarantees"): a revoke is refused from the
// next request (and by another process once it has committed), a quota holds exactly under
// concurrency, every served call is in the statement after a restart and counts in the quota,
// a refused or abandoned call gives its unit back, and a plan's limit on Redis holds exactly.
const redisUrl = await redisUrlOrSkip()
const dir = mkdtempSync(join(tmpdir(), '402x-key-calls-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type Running = { url: string; keys: NonNullable<Paywall['keys']>; events: Paywall['events']; stop(): Promise<void> }

/**
 * An Express app with one key-only route (`GET /api/data`) on `plan`, its ledger `ledger`;
 * `?status=` makes the handler answer that status, `?slow=1` answer after 2 s (or never, once
 * the caller has left: `left` then holds its request id).
 */
async function start(
  plan: ReturnType<typeof plans.tiered>,
  ledger: string,
  extra: Record<string, unknown> = {},
  setup: (app: express.Express) => void = () => {},
) {
  const left: string[] = []
  const middleware = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    ledger,
    reconcileIntervalMs: 0,
    routes: { 'GET /api/data': { price: 0.01, accept: ['key'] } },
    keys: { plans: [plan] },
    ...extra,
  } as never)
  const app = express()
  setup(app)
  app.use(middleware)
  app.get('/api/data', (req, res) => {
    const status = Number(req.query.status ?? 200)
    if (req.query.slow) {
      const timer = setTimeout(() => res.status(status).json({ late: true }), 2000)
      res.on('close', () => {
        clearTimeout(timer)
        if (!res.writableEnded) left.push(String(req.query.id))
      })
      return
    }
    res.status(status).json({ ok: status < 400, caller: (req as { x402?: unknown }).x402, ip: req.ip })
  })
  const server = createServer(app)
  const url = await listen(server)
  const running: Running & { left: string[] } = {
    url,
    left,
    keys: middleware.paywall.keys as NonNullable<Paywall['keys']>,
    events: middleware.paywall.events,
    async stop() {
      await close(server)
      await middleware.paywall.close()
    },
  }
  return running
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const ledgerFile = () => join(dir, `ledger-${randomUUID()}.db`)
const statuses = async (responses: Promise<Response>[]) => {
  const all = await Promise.all(responses)
  return Promise.all(all.map(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } })))
}
const count = (list: { status: number }[], status: number) => list.filter((r) => r.status === status).length
const month = () => {
  const now = new Date()
  return [
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1),
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1),
  ]
}

describe('calls on an API key', () => {
  it('refuses a key revoked through the paywall from the very next request, after calls served from memory', async () => {
    const app = await start(plans.tiered({ name: 'team', monthly: 1000, perMinute: 1000 }), ledgerFile())
    try {
      const { key, info } = await app.keys.create({ name: 'alice', plan: 'team' })
      for (let i = 0; i < 5; i++)
        expect((await fetch(`${app.url}/api/data`, { headers: bearer(key) })).status).toBe(200)
      expect(await app.keys.revoke(info.id)).toBe(true)
      const refused = await fetch(`${app.url}/api/data`, { headers: bearer(key) })
      expect(refused.status).toBe(401)
      expect(await refused.json()).toMatchObject({ error: 'key_revoked' })
      const [from, to] = month() as [number, number]
      expect((await app.keys.usage(info.id, from, to)).total).toMatchObject({ calls: 5 })
    } finally {
      await app.stop()
    }
  })

  it('refuses a key revoked by another process on the same file once the revoke has committed', async () => {
    const ledger = ledgerFile()
    const app = await start(plans.tiered({ name: 'team', monthly: 1000, perMinute: 1000 }), ledger)
    try {
      const { key, info } = await app.keys.create({ name: 'bob', plan: 'team' })
      for (let i = 0; i < 3; i++)
        expect((await fetch(`${app.url}/api/data`, { headers: bearer(key) })).status).toBe(200)
      // Another process writes the file with a SQLite driver alone: a commit this one did not
      // make (better-sqlite3 where its native module loads for this Node, else node:sqlite).
      const driver = createRequire(import.meta.url).resolve('better-sqlite3')
      const script = `let db; try { const D = require(${JSON.stringify(driver)}); db = new D(process.argv[1]) }
        catch { const { DatabaseSync } = require('node:sqlite'); db = new DatabaseSync(process.argv[1]) }
        db.exec('PRAGMA busy_timeout = 5000'); db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(Date.now(), process.argv[2]); db.close()`
      await promisify(execFile)(process.execPath, ['-e', script, ledger, info.id], { timeout: 20_000 })
      // A key served from memory reads the file's version at most every 5 ms: a request after that.
      await new Promise((resolve) => setTimeout(resolve, 10))
      const refused = await fetch(`${app.url}/api/data`, { headers: bearer(key) })
      expect(refused.status).toBe(401)
      expect(await refused.json()).toMatchObject({ error: 'key_revoked' })
    } finally {
      await app.stop()
    }
  })

  it('serves exactly the quota of 100 calls at once on one key, the first calls of a new key and a known one alike', async () => {
    const app = await start(plans.tiered({ name: 'small', monthly: 20, perMinute: 1000 }), ledgerFile())
    try {
      const [from, to] = month() as [number, number]
      // A new key: its first calls all arrive before it is cached.
      const fresh = await app.keys.create({ name: 'fresh', plan: 'small' })
      const burst = await statuses(
        Array.from({ length: 100 }, () => fetch(`${app.url}/api/data`, { headers: bearer(fresh.key) })),
      )
      expect(count(burst, 200)).toBe(20)
      expect(count(burst, 429)).toBe(80)
      expect(burst.filter((r) => r.status === 429).every((r) => r.body.error === 'quota_exceeded')).toBe(true)
      expect((await app.keys.usage(fresh.info.id, from, to)).total).toMatchObject({ calls: 20, units: 20 })
      // A key served once already (cached), then 100 at once: 19 more.
      const known = await app.keys.create({ name: 'known', plan: 'small' })
      expect((await fetch(`${app.url}/api/data`, { headers: bearer(known.key) })).status).toBe(200)
      const again = await statuses(
        Array.from({ length: 100 }, () => fetch(`${app.url}/api/data`, { headers: bearer(known.key) })),
      )
      expect(count(again, 200)).toBe(19)
      expect(count(again, 429)).toBe(81)
      expect((await app.keys.usage(known.info.id, from, to)).total).toMatchObject({ calls: 20 })
    } finally {
      await app.stop()
    }
  })

  it('keeps every served call across a restart: the statement has them, and the quota counts them', async () => {
    const ledger = ledgerFile()
    const plan = plans.tiered({ name: 'ten', monthly: 10, perMinute: 1000 })
    const [from, to] = month() as [number, number]
    const first = await start(plan, ledger)
    let key: string
    let id: string
    try {
      const made = await first.keys.create({ name: 'carol', plan: 'ten' })
      key = made.key
      id = made.info.id
      const served = await statuses(
        Array.from({ length: 6 }, () => fetch(`${first.url}/api/data`, { headers: bearer(key) })),
      )
      expect(count(served, 200)).toBe(6)
    } finally {
      // Stopped right after its last answer: the usage it has not written yet is written on close.
      await first.stop()
    }
    const second = await start(plan, ledger)
    try {
      expect((await second.keys.usage(id, from, to)).total).toMatchObject({ calls: 6, units: 6 })
      const rest = await statuses(
        Array.from({ length: 10 }, () => fetch(`${second.url}/api/data`, { headers: bearer(key) })),
      )
      expect(count(rest, 200)).toBe(4)
      expect(count(rest, 429)).toBe(6)
      expect((await second.keys.usage(id, from, to)).total).toMatchObject({ calls: 10 })
    } finally {
      await second.stop()
    }
  })

  it('gives the unit back for an answer of 400 or more and for a caller that left, recording neither', async () => {
    const app = await start(plans.tiered({ name: 'two', monthly: 2, perMinute: 1000 }), ledgerFile())
    try {
      const { key, info } = await app.keys.create({ name: 'dave', plan: 'two' })
      for (const status of [500, 404, 400]) {
        expect((await fetch(`${app.url}/api/data?status=${status}`, { headers: bearer(key) })).status).toBe(status)
      }
      // A caller that leaves before the answer: nothing served, nothing counted.
      const gone = new AbortController()
      const pending = fetch(`${app.url}/api/data?slow=1&id=gone`, { headers: bearer(key), signal: gone.signal })
      setTimeout(() => gone.abort(), 100)
      await expect(pending).rejects.toThrow()
      await vi.waitFor(() => expect(app.left).toEqual(['gone']), { timeout: 5_000, interval: 10 })
      const served = [
        await fetch(`${app.url}/api/data`, { headers: bearer(key) }),
        await fetch(`${app.url}/api/data`, { headers: bearer(key) }),
      ]
      expect(served.map((r) => r.status)).toEqual([200, 200])
      const over = await fetch(`${app.url}/api/data`, { headers: bearer(key) })
      expect(over.status).toBe(429)
      expect(await over.json()).toMatchObject({ error: 'quota_exceeded' })
      const [from, to] = month() as [number, number]
      const usage = await app.keys.usage(info.id, from, to)
      expect(usage.total).toMatchObject({ calls: 2 })
      expect(usage.lines).toEqual([expect.objectContaining({ route: 'GET /api/data', calls: 2 })])
    } finally {
      await app.stop()
    }
  })

  it('tells the handler and the answer the same as the pipeline: the caller, the RateLimit headers', async () => {
    const app = await start(plans.tiered({ name: 'pro', monthly: 1000, perMinute: 50 }), ledgerFile())
    try {
      const { key, info } = await app.keys.create({ name: 'erin', plan: 'pro' })
      const answers = []
      for (let i = 0; i < 3; i++) answers.push(await fetch(`${app.url}/api/data`, { headers: { 'x-api-key': key } }))
      for (const [i, res] of answers.entries()) {
        expect(res.status).toBe(200)
        expect(res.headers.get('ratelimit-policy')).toMatch(/^"50-in-1min"; q=50; w=60; pk=:[A-Za-z0-9+/=]{16}:$/)
        expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"50-in-1min"; r=${49 - i}; t=\\d+$`))
        const body = (await res.json()) as { caller: { requestId: string } }
        expect(body.caller).toMatchObject({ kind: 'key', consumer: info.id, plan: 'pro', paid: { amount: '0' } })
        expect(body.caller.requestId).toMatch(/^[0-9a-f-]{36}$/)
      }
      // One `pk` per key, the same on every answer.
      expect(new Set(answers.map((r) => r.headers.get('ratelimit-policy'))).size).toBe(1)
    } finally {
      await app.stop()
    }
  })

  it("gives the request event the caller's address as req.ip reads it, with and without X-Forwarded-For", async () => {
    const app = await start(plans.tiered({ name: 'pro', monthly: 1000, perMinute: 50 }), ledgerFile(), {}, (a) =>
      a.set('trust proxy', 'loopback'),
    )
    const seen: { ip?: string; keyId?: string; outcome: string }[] = []
    app.events.on('request', (e) => seen.push(e))
    try {
      const { key, info } = await app.keys.create({ name: 'fay', plan: 'pro' })
      const direct = await fetch(`${app.url}/api/data`, { headers: { 'x-api-key': key } })
      const proxied = await fetch(`${app.url}/api/data`, {
        headers: { 'x-api-key': key, 'x-forwarded-for': '203.0.113.7' },
      })
      type Body = { ip: string; caller: object }
      const bodies = [(await direct.json()) as Body, (await proxied.json()) as Body]
      expect(bodies[1]?.ip).toBe('203.0.113.7')
      // The caller's fields in the order the handler always saw them.
      expect(Object.keys(bodies[0]?.caller ?? {})).toEqual(['requestId', 'kind', 'consumer', 'plan', 'paid'])
      await vi.waitFor(() => expect(seen).toHaveLength(2))
      expect(seen.map((e) => [e.outcome, e.keyId, e.ip])).toEqual([
        ['key', info.id, bodies[0]?.ip],
        ['key', info.id, '203.0.113.7'],
      ])
    } finally {
      await app.stop()
    }
  })
})

describe.skipIf(!redisUrl)("a plan's limit on Redis", () => {
  it('admits exactly its limit of 50 calls at once, and answers 503 store_unavailable while Redis is down', async () => {
    const redis = await startRedisServer()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    // The plan's name is in its counters' Redis keys: unique to this run.
    const name = `burst-${randomUUID().slice(0, 8)}`
    const app = await start(plans.tiered({ name, monthly: 1000, perMinute: 5 }), ledgerFile(), {
      stores: { rateLimits: redis.url },
    })
    try {
      const { key, info } = await app.keys.create({ name: 'frank', plan: name })
      const burst = await statuses(
        Array.from({ length: 50 }, () => fetch(`${app.url}/api/data`, { headers: bearer(key) })),
      )
      expect(count(burst, 200)).toBe(5)
      expect(count(burst, 429)).toBe(45)
      expect(burst.filter((r) => r.status === 429).every((r) => r.body.error === 'rate_limited')).toBe(true)
      const other = await app.keys.create({ name: 'grace', plan: name })
      await redis.stop()
      const down = await fetch(`${app.url}/api/data`, { headers: bearer(other.key) })
      expect(down.status).toBe(503)
      expect(await down.json()).toMatchObject({ error: 'store_unavailable' })
      const [from, to] = month() as [number, number]
      expect((await app.keys.usage(info.id, from, to)).total).toMatchObject({ calls: 5 })
      expect((await app.keys.usage(other.info.id, from, to)).total).toMatchObject({ calls: 0 })
    } finally {
      warn.mockRestore()
      await app.stop()
      await redis.stop()
    }
  })
})
