import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { x402Middleware } from '402x-api'
import express from 'express'
import { expect, it } from 'vitest'
import { close } from '../../helpers/stack.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..', '..')

const offline = (ledger: string) => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger,
  reconcileIntervalMs: 0,
})

/** Another process on the same credit file: grants (or spends) credit to a token, then exits. */
async function otherProcess(ledger: string, script: string) {
  const code = `
    import { createPaywall } from '402x-api'
    const paywall = createPaywall(${JSON.stringify({ ...offline(ledger), routes: { 'GET /api/data': 0.01 } })})
    ${script}
    await paywall.close()
  `
  await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root, timeout: 20_000 })
}

// creditService.cached(): when another connection has written the file, hot balances are
// dropped — except for accounts with a hold in flight — and `version` is updated anyway.
// So an account that had a hold in flight at that moment keeps its stale figure until some
// other process writes again: credit granted (or spent) elsewhere is never seen.
async function setup(dir: string) {
  const ledger = join(dir, 'ledger.db')
  const app = express()
  const paywall = x402Middleware({
    ...offline(ledger),
    routes: { 'GET /api/data': 0.01, 'GET /api/slow': 0.01, 'GET /api/big': 0.5 },
  })
  let open!: () => void
  const gate = new Promise<void>((r) => {
    open = r
  })
  let runs = 0
  app.use(paywall)
  app.get('/api/data', (_req, res) => {
    runs++
    res.json({ data: 'paid' })
  })
  app.get('/api/big', (_req, res) => {
    runs++
    res.json({ data: 'big' })
  })
  app.get('/api/slow', async (_req, res) => {
    await gate
    res.json({ data: 'slow' })
  })
  const server = express().use(app).listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return { ledger, paywall, server, url, open, runs: () => runs }
}

it('credit granted by another process while a request of the account is in flight is seen (not a 402 forever)', async () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  let server: Server | undefined
  let paywall: ReturnType<typeof x402Middleware> | undefined
  try {
    const s = await setup(dir)
    server = s.server
    paywall = s.paywall
    const { token } = await s.paywall.paywall.credits!.grant({ amount: 0.05, ref: 'first' })
    const auth = { authorization: `Bearer ${token}` }
    expect((await fetch(`${s.url}/api/data`, { headers: auth })).status).toBe(200)
    const slow = fetch(`${s.url}/api/slow`, { headers: auth }) // holds $0.01 while it runs
    await sleep(50)
    // Another process (an operator's script, a second worker) adds $1 to the same account.
    await otherProcess(
      s.ledger,
      `await paywall.credits.grant({ amount: 1, token: ${JSON.stringify(token)}, ref: 'second' })`,
    )
    await sleep(5)
    expect((await fetch(`${s.url}/api/data`, { headers: auth })).status).toBe(200)
    s.open()
    expect((await slow).status).toBe(200)
    await sleep(200) // not a transient: it stays so until some other connection writes the file
    // Ledger: 0.05 + 1 - 3 × 0.01 = 1.02.
    const shown = (await (await fetch(`${s.url}/__402x/credits`, { headers: auth })).json()) as {
      balance: { available: string }
    }
    expect(shown.balance.available).toBe('1.02')
    // A $0.50 request is covered.
    const big = await fetch(`${s.url}/api/big`, { headers: auth })
    expect(big.status).toBe(200)
  } finally {
    await close(server)
    await paywall?.paywall.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

it('credit spent by another process while a request of the account is in flight: this process stops running the handler unpaid', async () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  let server: Server | undefined
  let paywall: ReturnType<typeof x402Middleware> | undefined
  try {
    const s = await setup(dir)
    server = s.server
    paywall = s.paywall
    const { token } = await s.paywall.paywall.credits!.grant({ amount: 0.05, ref: 'first' })
    const auth = { authorization: `Bearer ${token}` }
    expect((await fetch(`${s.url}/api/data`, { headers: auth })).status).toBe(200)
    const slow = fetch(`${s.url}/api/slow`, { headers: auth })
    await sleep(50)
    // A second worker on the same file serves this token until its credit is gone ($0.04).
    await otherProcess(
      s.ledger,
      `const { createServer } = await import('node:http')
       const { x402Middleware } = await import('402x-api')
       const mw = x402Middleware(${JSON.stringify({ ...offline(s.ledger), routes: { 'GET /api/data': 0.01 } })})
       const server = createServer((req, res) => mw(req, res, () => res.end('ok')))
       await new Promise((r) => server.listen(0, '127.0.0.1', r))
       const at = 'http://127.0.0.1:' + server.address().port + '/api/data'
       let served = 0
       for (let i = 0; i < 10; i++) {
         const r = await fetch(at, { headers: { authorization: 'Bearer ${token}' } })
         if (r.status === 200) served++
       }
       if (served !== 4) throw new Error('the other worker served ' + served)
       server.closeAllConnections(); server.close(); await mw.paywall.close()`,
    )
    await sleep(5)
    // A request here while the hold is in flight: the ledger's figure is read afresh (less
    // what this process holds), so it is a 402 before the handler runs.
    const runsBefore = s.runs()
    expect((await fetch(`${s.url}/api/data`, { headers: auth })).status).toBe(402)
    expect(s.runs()).toBe(runsBefore)
    s.open()
    await slow
    await sleep(20)
    const before = s.runs()
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${s.url}/api/data`, { headers: auth })).status)
    // The account is empty: 402, and the (side-effecting) handler does not run.
    expect({ statuses, handlerRuns: s.runs() - before }).toEqual({
      statuses: [402, 402, 402],
      handlerRuns: 0,
    })
  } finally {
    await close(server)
    await paywall?.paywall.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
