import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { PaymentRequirements } from '@402x/core'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin } from '../helpers/devProcess.js'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// `402x payments`, `402x export` and `402x credits adjust` as an operator runs them, against
// an API with paid traffic on the local chain, behind an admin token.
const execFileAsync = promisify(execFile)
const adminToken = 'cli-admin-token-51c2'
const env = { ...process.env, X402_ADMIN_TOKEN: adminToken }
delete (env as Record<string, string | undefined>).X402_API_URL
type Result = { code: number; stdout: string; stderr: string }
let stack: Stack
let server: Server
let url: string

async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cliBin, ...args, '--url', url], {
      env,
      timeout: 30_000,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}
const oneLine = (result: Result) => {
  const lines = result.stdout.trimEnd().split('\n')
  expect(lines, result.stderr).toHaveLength(1)
  return JSON.parse(lines[0] as string)
}
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }

async function pay(path: string, i: number, method = 'GET') {
  const unpaid = await fetch(`${url}${path}`, { method })
  const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
  const paid = await fetch(`${url}${path}`, {
    method,
    headers: { 'PAYMENT-SIGNATURE': signedPayment(buyer(i), requirements) },
  })
  expect(paid.status).toBeLessThan(300)
  return paid
}

beforeAll(async () => {
  stack = await startStack()
  const app = express()
  app.use(express.json())
  app.use(x402Middleware({ ...stack.paywall(), routes: { 'GET /api/data': 0.01 }, adminToken }))
  app.get('/api/data', (_req, res) => res.json({ ok: true }))
  server = createServer(app)
  url = await listen(server)
  await pay('/api/data', 0)
  await pay('/api/data', 1)
  await pay('/api/data', 1)
  await pay('/__402x/credits?amount=0.5', 2, 'POST')
}, 120_000)

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('402x payments', () => {
  it('lists, filters and pages with --json, and prints a table without it', async () => {
    const all = oneLine(await cli('payments', '--json'))
    expect(all.payments).toHaveLength(4)
    const byPayer = oneLine(await cli('payments', '--payer', buyer(1).address, '--state', 'settled', '--json'))
    expect(byPayer.payments.map((p: { payer: string }) => p.payer)).toEqual([
      buyer(1).address.toLowerCase(),
      buyer(1).address.toLowerCase(),
    ])
    const first = oneLine(await cli('payments', '--limit', '3', '--json'))
    expect(first.payments).toHaveLength(3)
    const rest = oneLine(await cli('payments', '--limit', '3', '--cursor', first.next, '--json'))
    expect(rest.payments.map((p: { id: string }) => p.id)).toEqual([all.payments[3].id])
    const table = await cli('payments', '--state', 'settled')
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME \(UTC\)\s+STATE\s+AMOUNT\s+PAYER/)
    expect(table.stdout).toContain('$0.01')
    const bad = await cli('payments', '--state', 'paid', '--json')
    expect(bad.code).toBe(1)
    expect(oneLine(bad)).toMatchObject({ error: 'invalid_request' })
    const refused = await execFileAsync(process.execPath, [cliBin, 'payments', '--json', '--url', url], {
      env: { ...env, X402_ADMIN_TOKEN: 'wrong' },
    }).catch((e: { stdout: string }) => e)
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: 'invalid_admin_token' })
  }, 300_000)
})

describe('402x export', () => {
  it('writes CSV and CloudEvents files equal to the ledger', async () => {
    const ledger = oneLine(await cli('payments', '--json')).payments.reverse()
    const from = new Date(Date.now() - 3_600_000).toISOString()
    const to = new Date(Date.now() + 60_000).toISOString()
    const csvFile = join(stack.dir, 'out.csv')
    const done = oneLine(await cli('export', '--from', from, '--to', to, '-o', csvFile, '--json'))
    expect(done).toMatchObject({ file: csvFile, format: 'csv', rows: 4 })
    const rows = readFileSync(csvFile, 'utf8').trimEnd().split('\r\n')
    expect(rows.slice(1).map((r) => r.split(',')[0])).toEqual(ledger.map((p: { id: string }) => p.id))
    const jsonl = join(stack.dir, 'out.jsonl')
    await cli('export', '--from', from, '--to', to, '--format', 'cloudevents', '-o', jsonl)
    const events = readFileSync(jsonl, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.map((e) => [e.id, e.subject, e.data.amountAtomic])).toEqual(
      ledger.map((p: { id: string; payer: string; amountAtomic: string }) => [p.id, p.payer, p.amountAtomic]),
    )
    const stdout = await cli('export', '--from', from, '--to', to)
    expect(stdout.stdout.split('\r\n')[0]).toMatch(/^id,created_at,/)
  }, 300_000)
})

describe('402x credits adjust', () => {
  it('adjusts down with a reason, once per ref, never below zero', async () => {
    const account = (await (
      await fetch(`${url}/__402x/admin/credits`, { headers: { authorization: `Bearer ${adminToken}` } })
    ).json()) as { accounts: { account: string }[] }
    const id = account.accounts[0]?.account as string
    const down = oneLine(
      await cli('credits', 'adjust', id, '-0.2', '--reason', 'goodwill reversal', '--ref', 't1', '--json'),
    )
    expect(down).toMatchObject({ amount: '-0.2', balance: '0.3', replayed: false })
    const again = oneLine(
      await cli('credits', 'adjust', id, '-0.2', '--reason', 'goodwill reversal', '--ref', 't1', '--json'),
    )
    expect(again).toMatchObject({ balance: '0.3', replayed: true })
    const over = await cli('credits', 'adjust', id, '-1', '--reason', 'too much', '--json')
    expect(over.code).toBe(1)
    expect(oneLine(over)).toMatchObject({ error: 'insufficient_credit' })
    const human = await cli('credits', 'adjust', id, '0.7', '--reason', 'bonus')
    expect(human.stderr).toContain('$1 available')
  }, 300_000)
})
