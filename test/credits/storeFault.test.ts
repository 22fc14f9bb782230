import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'

// A credit store that cannot be reached (a PostgreSQL that is down): a request with a credit
// token, known or not, is answered as the pipeline answers a fault (JSON, 503, Retry-After),
// never by Express's HTML error page with the stack, and nothing is served.
const closers: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const close of closers) await close()
})

describe('a credit store that is down, on Express', () => {
  it('answers 503 store_unavailable in JSON with Retry-After, and never runs the handler', async () => {
    const middleware = x402Middleware({
      payTo: '0x1111111111111111111111111111111111111111',
      network: 'eip155:31337',
      asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
      facilitator: 'http://127.0.0.1:9',
      // Nothing listens on port 9: every credit read fails to connect.
      stores: { databaseUrl: 'postgres://127.0.0.1:9/none' },
      routes: { 'GET /api/data': 0.01 },
      reconcileIntervalMs: 0,
    })
    middleware.paywall.events.on('error', () => {})
    let ran = 0
    const app = express()
    app.use(middleware)
    app.get('/api/data', (_req, res) => {
      ran++
      res.json({ ok: true })
    })
    const server: Server = createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => middleware.paywall.close().catch(() => {}),
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/data`
    for (const token of [
      'x402c_unknownunknownunknownunknownunknownunkno',
      'x402c_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ]) {
      const answer = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      expect(answer.status).toBe(503)
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
      expect(answer.headers.get('retry-after')).toBe('2')
      const body = (await answer.json()) as { reason: string; message: string }
      expect(body.reason).toBe('store_unavailable')
      expect(body.message).not.toMatch(/\n\s+at /)
    }
    expect(ran).toBe(0)
  }, 30_000)
})

describe('a credit store written by a newer release', () => {
  it('stops start-up with the reason, instead of failing the first credit request', async () => {
    const dir = mkdtempSync(join(tmpdir(), '402x-newer-credits-'))
    try {
      const options = {
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:31337',
        asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, 'ledger.db'),
        routes: { 'GET /api/data': 0.01 },
        reconcileIntervalMs: 0,
      }
      await x402Middleware(options).paywall.close()
      const db = openSqlite(options.ledger)
      // What a newer release would have recorded: one more credits migration.
      db.prepare(
        "INSERT INTO x402_schema (component, version, name, applied_at) VALUES ('credits', 9, 'from a newer release', 0)",
      ).run()
      db.close()
      expect(() => x402Middleware(options)).toThrow(/credits schema is at version 9, newer than this 402x knows/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
