import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x402Middleware } from '402x-api'
import express from 'express'
import { expect, it } from 'vitest'
import { close } from '../../helpers/stack.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// serveFromCredit (nodeMiddleware.ts:168-176): the first end() puts the real write/end/
// writeHead back *before* the charge is written, so the `if (ended) return res` guard never
// sees a second call: a second end() (or a write after end) goes straight to the socket,
// with no receipt and before the charge; the charge then meets a finished response and is
// given back as "undelivered". Without 402x, Node ignores an end() after end().
it('fast path: an end() after end() sends nothing unpaid; the paid body goes out with its receipt and is charged', async () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  const paywall = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    routes: { 'GET /api/report': 0.01 },
  })
  let server: Server | undefined
  try {
    const app = express()
    app.use(paywall)
    app.get('/api/report', (_req, res) => {
      res.setHeader('content-type', 'text/plain')
      res.end()
      res.end('the paid report')
    })
    server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server?.once('listening', r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const { token } = await paywall.paywall.credits!.grant({ amount: 0.05, ref: 'double-end' })
    const auth = { authorization: `Bearer ${token}` }

    const answers: { status: number; body: string; receipt: boolean }[] = []
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${url}/api/report`, { headers: auth, signal: AbortSignal.timeout(5000) })
      answers.push({
        status: response.status,
        body: await response.text(),
        receipt: response.headers.has('x-402x-receipt'),
      })
    }
    await sleep(50)
    // Plain Node would send the first end() (an empty 200) and drop the second: each
    // response carries its receipt and is charged.
    expect(answers).toEqual(Array(3).fill({ status: 200, body: '', receipt: true }))
    expect(await paywall.paywall.credits!.balance(token as string)).toEqual({ available: '0.02', reserved: '0' })
  } finally {
    await close(server)
    await paywall.paywall.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
