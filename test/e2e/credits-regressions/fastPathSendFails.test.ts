import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Middleware } from '402x-api'
import { withX402 } from '402x-api/node'
import express from 'express'
import { afterEach, expect, it } from 'vitest'
import { close } from '../../helpers/stack.js'

// Found reviewing the allocation-light fast path (nodeMiddleware.ts): an error thrown while
// the charged answer is sent was swallowed (the request hung, still charged) or, for an
// answer >= 400, became an unhandled rejection that ended the process; and a response that
// went through the fast path twice (the middleware mounted twice) hung and leaked a hold.

const dirs: string[] = []
const servers: Server[] = []
const paywalls: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await close(server)
  for (const paywall of paywalls.splice(0)) await paywall.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const options = (routes: Record<string, number>) => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  dirs.push(dir)
  return {
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    routes,
  }
}

async function serve(server: Server): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

const get = (url: string, token: string) =>
  fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) })

for (const status of [200, 404]) {
  it(`Node: an answer at ${status} whose end() throws is a 500, charged nothing, and the seller stays up`, async () => {
    const handler = withX402(options({ 'GET /r': 0.01 }), (_req, res) => {
      res.statusCode = status
      ;(res.end as (chunk: unknown) => void)(42) // Node refuses a number: ERR_INVALID_ARG_TYPE
    })
    paywalls.push(handler.paywall)
    const url = await serve(createServer(handler))
    const { token } = await handler.paywall.credits!.grant({ amount: 0.05, ref: `end-throws-${status}` })
    for (let i = 0; i < 2; i++) {
      const response = await get(`${url}/r`, token as string)
      expect(response.status).toBe(500)
      expect(response.headers.has('x-402x-receipt')).toBe(false)
      await response.arrayBuffer()
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await handler.paywall.credits!.balance(token as string)).toEqual({ available: '0.05', reserved: '0' })
  })
}

it('Express: a route that passes through the middleware twice is served once, charged once, with no hold left', async () => {
  const middleware = x402Middleware(options({ 'GET /r': 0.01 }))
  paywalls.push(middleware.paywall)
  const app = express()
  app.use(middleware)
  app.get('/r', middleware, (_req, res) => {
    res.write('a')
    res.end('b')
  })
  const url = await serve(createServer(app))
  const { token } = await middleware.paywall.credits!.grant({ amount: 0.05, ref: 'twice' })
  for (let i = 0; i < 2; i++) {
    const response = await get(`${url}/r`, token as string)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('ab')
    expect(response.headers.has('x-402x-receipt')).toBe(true)
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(await middleware.paywall.credits!.balance(token as string)).toEqual({ available: '0.03', reserved: '0' })
})
