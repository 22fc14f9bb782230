import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, describe, expect, it } from 'vitest'
import { x402Middleware } from '../express/x402Middleware.js'
import { plans } from '../keys/plans.js'
import type { PaywallOptions } from '../paywall/types.js'

// The admin API behind a real Express server, with and without a JSON body parser before
// 402x: the body is read either way; a key made over HTTP is served on the priced route at
// once, and refused once revoked over HTTP.
const dir = mkdtempSync(join(tmpdir(), '402x-admin-express-'))
const closers: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const close of closers) await close()
  rmSync(dir, { recursive: true, force: true })
})

async function start(withParser: boolean): Promise<string> {
  const app = express()
  if (withParser) app.use(express.json())
  const middleware = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:31337',
    asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, `ledger-${withParser}.db`),
    reconcileIntervalMs: 0,
    routes: { 'GET /api/data': 0.01 },
    keys: { plans: [plans.free()] },
  } as PaywallOptions)
  app.use(middleware)
  app.get('/api/data', (_req, res) => void res.json({ ok: true }))
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => middleware.paywall.close(),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe.each([false, true])('admin API on Express (express.json() first: %s)', (withParser) => {
  it('creates a key over HTTP from loopback on the local chain; it serves at once, and not once revoked', async () => {
    const url = await start(withParser)
    const created = await fetch(`${url}/__402x/admin/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', plan: 'free' }),
    })
    expect(created.status).toBe(201)
    const { key, info } = (await created.json()) as { key: string; info: { id: string } }
    expect(key).toMatch(/^x402_test_/)
    const served = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${key}` } })
    expect(served.status).toBe(200)
    expect(await served.json()).toEqual({ ok: true })
    const revoked = await fetch(`${url}/__402x/admin/keys/${info.id}`, { method: 'DELETE' })
    expect(revoked.status).toBe(200)
    const refused = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${key}` } })
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: 'key_revoked' })
  })
})

describe('admin API on Express with two paywalls', () => {
  it('answers keys from the paywall that has them, even when one without keys is mounted first', async () => {
    const app = express()
    const base = {
      payTo: '0x1111111111111111111111111111111111111111',
      network: 'eip155:31337',
      asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
      facilitator: 'http://127.0.0.1:9',
      ledger: join(dir, 'ledger-two.db'),
      reconcileIntervalMs: 0,
    }
    const first = x402Middleware({ ...base, routes: { 'GET /api/plain': 0.01 } } as PaywallOptions)
    const keyed = x402Middleware({
      ...base,
      routes: { 'GET /api/keyed': 0.01 },
      keys: { plans: [plans.free()] },
    } as PaywallOptions)
    app.use(first)
    app.use(keyed)
    const server: Server = createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => first.paywall.close(),
      () => keyed.paywall.close(),
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const created = await fetch(`${url}/__402x/admin/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', plan: 'free' }),
    })
    expect(created.status).toBe(201)
    const listed = (await (await fetch(`${url}/__402x/admin/keys`)).json()) as { keys: { name: string }[] }
    expect(listed.keys.map((k) => k.name)).toEqual(['alice'])
    // The rest of the admin API is answered by the first paywall, as before.
    expect((await fetch(`${url}/__402x/admin/openapi.json`)).status).toBe(200)
  })
})

describe('admin keys and plans paths on a paywall without keys (Express)', () => {
  it('are priced as any other path: never handed on free to a catch-all or a static handler', async () => {
    const start = async (options: Partial<PaywallOptions>) => {
      const app = express()
      const middleware = x402Middleware({
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:31337',
        asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, `ledger-nokeys-${closers.length}.db`),
        reconcileIntervalMs: 0,
        ...options,
      } as PaywallOptions)
      app.use(middleware)
      // What a static handler does with an encoded separator: decodes it and walks up.
      app.use((req, res) => {
        const path = decodeURIComponent(req.path)
        res.send(/\.\.\/.*report\.txt$|^\/report\.txt$/.test(path) ? 'PAID REPORT' : `page ${path}`)
      })
      const server: Server = createServer(app)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      closers.push(
        () => new Promise((resolve) => server.close(resolve)),
        () => middleware.paywall.close(),
      )
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    }
    const traversal = '/__402x/admin/plans/..%2f..%2f..%2freport.txt'
    // Every path priced (`price` alone): the keys paths too.
    const all = await start({ price: 0.01 })
    expect((await fetch(`${all}/report.txt`)).status).toBe(402)
    for (const path of [traversal, '/__402x/admin/keys', '/__402x/admin/keys/abc?x=1', '/__402x/admin/plans/free']) {
      const answer = await fetch(`${all}${path}`)
      expect({ path, status: answer.status }).toEqual({ path, status: 402 })
    }
    // A routes table: a catch-all price holds there; an ambiguous spelling under it is refused.
    const table = await start({ routes: { 'GET /*': 0.01 } })
    expect((await fetch(`${table}/__402x/admin/keys`)).status).toBe(402)
    const odd = await fetch(`${table}${traversal}`)
    expect(odd.status).toBe(400)
    expect(await odd.json()).toMatchObject({ reason: 'ambiguous_path' })
    // Nothing priced there: handed on as any free path (another paywall of the app may have keys).
    const narrow = await start({ routes: { 'GET /api/data': 0.01 } })
    expect(await (await fetch(`${narrow}/__402x/admin/keys`)).text()).toBe('page /__402x/admin/keys')
    // The rest of the admin API stays the paywall's own, whatever its spelling.
    expect((await fetch(`${all}/__402x/admin/openapi.json`)).status).toBe(200)
    expect((await fetch(`${all}/__402x/admin/%6beys`)).status).not.toBe(200)
  })
})

describe('dashboard sign-in behind a TLS-terminating proxy (Express)', () => {
  it('sets Secure when Express trusts the proxy that says https; never on a header it does not trust', async () => {
    const login = async (trust: boolean) => {
      const app = express()
      if (trust) app.set('trust proxy', 'loopback')
      const middleware = x402Middleware({
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:8453',
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, `ledger-proxy-${trust}.db`),
        reconcileIntervalMs: 0,
        adminToken: 'proxy-admin-token',
        routes: { 'GET /api/data': 0.01 },
      } as PaywallOptions)
      app.use(middleware)
      const server: Server = createServer(app)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      closers.push(
        () => new Promise((resolve) => server.close(resolve)),
        () => middleware.paywall.close(),
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const answer = await fetch(`${url}/__402x/dashboard/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
        body: JSON.stringify({ token: 'proxy-admin-token' }),
      })
      expect(answer.status).toBe(204)
      return answer.headers.get('set-cookie') as string
    }
    expect(await login(true)).toMatch(/; Secure$/)
    expect(await login(false)).not.toMatch(/Secure/)
  })
})
