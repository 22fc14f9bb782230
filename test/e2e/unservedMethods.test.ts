import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { x402Middleware as x402Hono } from '402x-api/hono'
import express from 'express'
import express4 from 'express4'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { close, listen } from '../helpers/stack.js'

// A 402 asks for a payment: it is offered only for a method and path some route serves.
// Nothing here is paid, so no chain is needed: the facilitator is never called.
const dir = mkdtempSync(join(tmpdir(), '402x-unserved-'))
let ledgers = 0
const settings = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${ledgers++}.db`),
  reconcileIntervalMs: 0,
})
const servers: Server[] = []
const stops: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const stop of stops) await stop()
  for (const server of servers) await close(server)
  rmSync(dir, { recursive: true, force: true })
})

const status = async (url: string, method: string) => (await fetch(url, { method })).status

for (const [name, make] of [
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
] as const) {
  describe(`${name}: methods no route serves`, () => {
    it('answers 404 (no 402) for a method of a priced path that no route serves', async () => {
      const app = make()
      // The seed's form: the middleware on a path, the handler for one method.
      app.use('/api/generate', x402Middleware({ ...settings(), price: 0.01 }))
      app.post('/api/generate', (_req, res) => void res.json({ ok: true }))
      // A routes table pricing every method of a path that one method serves.
      app.use(x402Middleware({ ...settings(), routes: { '/api/any': 0.01 } }))
      app.get('/api/any', (_req, res) => void res.json({ ok: true }))
      app.all('/api/all', x402Middleware({ ...settings(), price: 0.01 }), (_req, res) => void res.json({ ok: true }))
      const server = createServer(app)
      servers.push(server)
      const url = await listen(server)

      expect(await status(`${url}/api/generate`, 'POST')).toBe(402)
      expect(await status(`${url}/api/generate`, 'DELETE')).toBe(404)
      expect(await status(`${url}/api/generate`, 'GET')).toBe(404)
      expect(await status(`${url}/api/any`, 'GET')).toBe(402)
      expect(await status(`${url}/api/any`, 'HEAD')).toBe(402)
      expect(await status(`${url}/api/any`, 'DELETE')).toBe(404)
      expect(await status(`${url}/api/all`, 'DELETE')).toBe(402)
      const refused = await fetch(`${url}/api/generate`, { method: 'DELETE' })
      expect(await refused.json()).toMatchObject({ reason: 'not_found', message: expect.stringMatching(/DELETE/) })
    })

    it('still asks for payment when a later middleware might answer the request', async () => {
      const app = make()
      app.use('/api/generate', x402Middleware({ ...settings(), price: 0.01 }))
      app.post('/api/generate', (_req, res) => void res.json({ ok: true }))
      // A catch-all could serve anything: the 402 stays.
      app.use((_req, res) => void res.status(200).json({ fallback: true }))
      const server = createServer(app)
      servers.push(server)
      const url = await listen(server)
      expect(await status(`${url}/api/generate`, 'DELETE')).toBe(402)
    })
  })
}

describe('Fastify: methods no route serves', () => {
  it('answers 404 (no 402) for a method of a priced path that no route serves, and still serves /__402x/credits', async () => {
    const app = Fastify()
    await app.register(x402Fastify, { ...settings(), routes: { '/api/any': 0.01 } })
    app.get('/api/any', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    stops.push(() => app.close())
    const address = app.server.address() as { port: number }
    const url = `http://127.0.0.1:${address.port}`
    expect(await status(`${url}/api/any`, 'GET')).toBe(402)
    expect(await status(`${url}/api/any`, 'DELETE')).toBe(404)
    expect(await status(`${url}/__402x/credits`, 'GET')).toBe(401)
    expect(await status(`${url}/__402x/credits?amount=1`, 'POST')).toBe(402)
  })
})

describe('Hono: methods no route serves', () => {
  it('answers 404 (no 402) for a method of a priced path no handler serves; the credits endpoint keeps its 402', async () => {
    const app = new Hono()
    app.use('/api/generate', x402Hono({ ...settings(), price: 0.01 }))
    app.post('/api/generate', (c) => c.json({ ok: true }))
    app.use(x402Hono({ ...settings(), routes: { '/api/any': 0.01 } }))
    app.get('/api/any', (c) => c.json({ ok: true }))
    // Any other middleware on the path might answer it: the 402 stays.
    app.use('/api/open', x402Hono({ ...settings(), price: 0.01 }))
    app.use('/api/open', async (c) => c.json({ fallback: true }))
    const server = createAdaptorServer({ fetch: app.fetch }) as unknown as Server
    servers.push(server)
    const url = await listen(server)
    expect(await status(`${url}/api/generate`, 'POST')).toBe(402)
    const refused = await fetch(`${url}/api/generate`, { method: 'DELETE' })
    expect(refused.status).toBe(404)
    expect(await refused.json()).toMatchObject({ reason: 'not_found' })
    expect(await status(`${url}/api/any`, 'GET')).toBe(402)
    expect(await status(`${url}/api/any`, 'DELETE')).toBe(404)
    expect(await status(`${url}/api/open`, 'DELETE')).toBe(402)
    expect(await status(`${url}/__402x/credits?amount=1`, 'POST')).toBe(402)
  })
})
