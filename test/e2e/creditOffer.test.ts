import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Credits, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, describe, expect, it } from 'vitest'
import { close, listen } from '../helpers/stack.js'

// A 402 offers a credit top-up only where something serves /__402x/credits. Nothing is paid
// here, so no chain is needed: the facilitator is never called.
const dir = mkdtempSync(join(tmpdir(), '402x-offer-'))
const settings = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, 'ledger.db'),
  reconcileIntervalMs: 0,
})
const servers: Server[] = []
afterAll(async () => {
  for (const server of servers) await close(server)
  rmSync(dir, { recursive: true, force: true })
})

async function serve(app: express.Express) {
  const server = createServer(app)
  servers.push(server)
  return listen(server)
}

const offerOf = async (url: string) => {
  const res = await fetch(url)
  expect(res.status).toBe(402)
  return ((await res.json()) as { credits?: { topUp: string } }).credits
}

describe('the credit offer in a 402', () => {
  it('is left out by per-route middleware alone, whose app serves no /__402x/credits', async () => {
    const app = express()
    app.get('/api/weather/:city', x402Middleware({ ...settings(), price: 0.01 }), (_req, res) => {
      res.json({ ok: true })
    })
    const url = await serve(app)
    expect(await offerOf(`${url}/api/weather/paris`)).toBeUndefined()
    expect((await fetch(`${url}/__402x/credits`)).status).toBe(404)
  })

  it('is made when x402Credits() serves /__402x/credits before the route, and that top-up answers', async () => {
    const app = express()
    app.use(x402Credits(settings()))
    app.get('/api/weather/:city', x402Middleware({ ...settings(), price: 0.01 }), (_req, res) => {
      res.json({ ok: true })
    })
    const url = await serve(app)
    const offer = await offerOf(`${url}/api/weather/paris`)
    expect(offer?.topUp).toBe(`${url}/__402x/credits`)
    expect((await fetch(`${url}/__402x/credits?amount=1`, { method: 'POST' })).status).toBe(402)
  })
})
