import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeHeader, PaymentRequiredSchema } from '@402x/core'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawGet } from '../helpers/rawGet.js'
import { close, listen } from '../helpers/stack.js'

// Issue 15, case 3: the Host header decides nothing; the resource URL comes from publicUrl or a valid Host.

const dir = mkdtempSync(join(tmpdir(), '402x-host-'))
let ledgers = 0
const offline = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${ledgers++}.db`),
  reconcileIntervalMs: 0,
})
const table = { 'GET /premium/*': 0.05, 'GET /report/:id': 0.02 }

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('402x dev: the demo API (issue 15, case 3)', () => {
  let url: string | undefined
  let server: Server | undefined
  beforeAll(async () => {
    const { createDemoApi } = await import('../../packages/cli/src/demoApi.js')
    const { ledger: _ledger, ...settings } = offline()
    server = createServer(createDemoApi({ ...settings, ledger: join(dir, 'demo-ledger.db') }))
    url = await listen(server)
  })
  afterAll(async () => {
    await close(server)
  })

  it.each([
    ['/api/market/..%2F..%2Fopenapi.json', 'a#', 400],
    ['/api/market/..%2F..%2Fopenapi.json', 'a?', 400],
    ['/api/market/..%2F..%2Fopenapi.json', undefined, 402],
    ['/api/market/..%2F..%2F.well-known%2Fx402', undefined, 402],
    ['/api/market/..%2F..%2F__402x%2Fcredits', undefined, 402],
    ['/api/market/BTC', 'a b', 400],
  ])('never serves GET %s (Host %j) from the market handler unpaid', async (target, host, status) => {
    const answer = await rawGet(url as string, target, host)
    expect(answer.status).toBe(status)
    expect(answer.body).not.toContain('"symbol"')
  })
})

describe('the resource URL in a 402 (issue 15, case 3)', () => {
  const resourceOf = async (app: express.Express, target: string, headers = '') => {
    const server = createServer(app)
    try {
      const base = await listen(server)
      const { hostname, port } = new URL(base)
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () =>
          socket.write(`GET ${target} HTTP/1.1\r\nHost: shop.test:8080\r\n${headers}Connection: close\r\n\r\n`),
        )
        let out = ''
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
        socket.on('data', (chunk: Buffer) => {
          out += chunk.toString()
        })
        socket.on('close', () => resolve(out))
        socket.on('error', reject)
      })
      const header = /^payment-required: (.+)$/im.exec(answer)?.[1]?.trim() ?? ''
      const decoded = decodeHeader(header, PaymentRequiredSchema)
      if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED in:\n${answer}`)
      return decoded.value.resource?.url
    } finally {
      await close(server)
    }
  }
  const priced = (options: Record<string, unknown> = {}, trust = false) => {
    const app = express()
    if (trust) app.set('trust proxy', true)
    app.use(x402Middleware({ ...offline(), routes: table, ...options }))
    // Something serves the priced paths (a 402 is offered only for a path a route serves).
    app.use((_req, res) => void res.json({ served: true }))
    return app
  }

  it('comes from publicUrl when it is set, whatever the Host', async () => {
    expect(await resourceOf(priced({ publicUrl: 'https://api.example.com/v1/' }), '/premium/a?x=1')).toBe(
      'https://api.example.com/v1/premium/a',
    )
  })

  it('comes from X402_PUBLIC_URL', async () => {
    process.env.X402_PUBLIC_URL = 'https://env.example.com'
    try {
      expect(await resourceOf(priced(), '/premium/a')).toBe('https://env.example.com/premium/a')
    } finally {
      delete process.env.X402_PUBLIC_URL
    }
  })

  it('else from the validated Host, https when a trusted proxy says so', async () => {
    expect(await resourceOf(priced(), '/premium/a')).toBe('http://shop.test:8080/premium/a')
    expect(await resourceOf(priced({}, true), '/premium/a', 'X-Forwarded-Proto: https\r\n')).toBe(
      'https://shop.test:8080/premium/a',
    )
    // Not trusted: the header is the caller's word, not the scheme.
    expect(await resourceOf(priced(), '/premium/a', 'X-Forwarded-Proto: https\r\n')).toBe(
      'http://shop.test:8080/premium/a',
    )
  })

  it('refuses a publicUrl that is not a plain absolute http(s) URL, at start-up', () => {
    expect(() => x402Middleware({ ...offline(), routes: table, publicUrl: 'api.example.com' })).toThrow(
      /publicUrl "api.example.com" \(from option `publicUrl`\) is not an absolute URL/,
    )
  })
})
