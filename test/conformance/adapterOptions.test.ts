import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Middleware } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import { withX402 as withX402Fetch } from '402x-api/fetch'
import { x402Middleware as x402Hono } from '402x-api/hono'
import { withX402 as withX402Next, x402NextMiddleware } from '402x-api/next'
import { withX402 as withX402Node } from '402x-api/node'
import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'

// Every adapter checks its options when it is built (Fastify: when it is registered), before
// any request: a seller never serves with an option that does nothing.
const dir = mkdtempSync(join(tmpdir(), '402x-adapter-options-'))
let ledgers = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const settings = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${++ledgers}.db`),
  reconcileIntervalMs: 0,
})
const ok = () => new Response('ok')

type Start = (options: Record<string, unknown>) => Promise<unknown>
const adapters: [string, Start][] = [
  ['express', async (o) => x402Middleware({ ...settings(), ...o } as never)],
  ['node', async (o) => withX402Node({ ...settings(), ...o } as never, (_req, res) => res.end())],
  ['fetch', async (o) => withX402Fetch({ ...settings(), ...o } as never, ok)],
  ['hono', async (o) => x402Hono({ ...settings(), ...o } as never)],
  [
    'fastify',
    async (o) => {
      const app = Fastify()
      try {
        await app.register(x402Fastify, { ...settings(), ...o } as never)
        await app.ready()
      } finally {
        await app.close()
      }
    },
  ],
  // Next.js builds its paywall on the first request (no settings at build time), but the
  // options are checked when the route module makes its handler.
  ['next withX402', async (o) => withX402Next({ ...settings(), ...o } as never, ok)],
  ['next middleware', async (o) => x402NextMiddleware({ ...settings(), ...o } as never)],
]

describe.each(adapters)('%s', (_name, start) => {
  it('an unknown option stops start-up, naming it', async () => {
    await expect(start({ price: 0.01, bogusOption: 1 })).rejects.toThrow('`bogusOption` is not an option')
    await expect(start({ price: 0.01, rateLimt: {} })).rejects.toThrow('did you mean `rateLimit`?')
    await expect(start({ routes: { 'GET /a': { price: 0.01, bogusOption: 1 } } })).rejects.toThrow(
      '`routes["GET /a"].bogusOption` is not an option',
    )
  })

  it('rateLimit is taken, and one that cannot mean what it says stops start-up', async () => {
    // Built without a throw (Fastify: registered and ready).
    await start({ price: 0.01, rateLimit: { maxRequests: 3, windowMs: 60000 } })
    await start({ routes: { 'GET /a': { price: 0.01, rateLimit: { maxRequests: 3 } } } })
    await expect(start({ price: 0.01, rateLimit: { windowMs: 60000 } })).rejects.toThrow(
      'maxRequests is undefined: give a whole number of requests per window',
    )
  })

  it('verifyNonce: false stops start-up: replays are always refused', async () => {
    await expect(start({ price: 0.01, verifyNonce: false })).rejects.toThrow('replays are always refused')
  })
})

it("errors: 'next' is refused where no error handler gets the 402 (accepted by Express)", async () => {
  await expect(adapters[0]?.[1]({ price: 0.01, errors: 'next' })).resolves.toBeDefined()
  for (const [, start] of adapters.slice(1)) {
    await expect(start({ price: 0.01, errors: 'next' })).rejects.toThrow("errors: 'next' is for Express")
  }
})
