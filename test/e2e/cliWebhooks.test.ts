import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { x402Middleware } from '402x-api'
import express from 'express'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startReceiver, until } from '../../packages/api/src/webhooks/receiver.fixture.js'
import { fastDelivery, settlePayment } from '../../packages/api/src/webhooks/webhookPaywalls.fixture.js'
import { cliBin } from '../helpers/devProcess.js'

// `402x webhooks … --json` as an operator runs it, against a real Express API (local chain,
// SQLite ledger, behind an admin token) and a real receiver.
const execFileAsync = promisify(execFile)
const env = { ...process.env }
delete env.X402_API_URL
delete env.X402_ADMIN_TOKEN
const token = 'cli-webhooks-token'
type Result = { code: number; stdout: string; stderr: string }
let server: Server
let url: string
let dir: string
let receiver: Awaited<ReturnType<typeof startReceiver>>
let middleware: ReturnType<typeof x402Middleware>

async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [cliBin, 'webhooks', ...args, '--url', url, '--token', token],
      { env, timeout: 30_000 },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}
const json = (result: Result) => {
  const lines = result.stdout.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  return JSON.parse(lines[0] as string)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), '402x-cli-webhooks-'))
  receiver = await startReceiver()
  middleware = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:31337',
    asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } },
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    adminToken: token,
    webhookDelivery: fastDelivery,
    routes: { 'GET /api/data': 0.01 },
  })
  const app = express()
  app.use(middleware)
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((r) => server?.close(r))
  await middleware?.paywall.close()
  await receiver?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('402x webhooks --json', () => {
  it('adds, lists, shows deliveries, replays and removes', async () => {
    const added = json(await cli('add', receiver.url, '--events', 'payment.settled,payment.failed', '--json'))
    expect(added.secret).toMatch(/^whsec_/)
    expect(added.webhook).toMatchObject({
      url: receiver.url,
      events: ['payment.settled', 'payment.failed'],
      source: 'admin',
    })
    const id = added.webhook.id as string

    const listed = json(await cli('list', '--json'))
    expect(listed.webhooks.map((h: { id: string }) => h.id)).toEqual([id])

    await settlePayment(middleware.paywall)
    await until(
      async () => json(await cli('deliveries', '--status', 'delivered', '--json')).deliveries.length === 1,
      'a delivery',
      30_000,
    )
    const got = receiver.received[0]
    expect(() => new Webhook(added.secret).verify(got?.body ?? '', got?.headers ?? {})).not.toThrow()

    const [delivery] = json(await cli('deliveries', '--webhook', id, '--json')).deliveries
    expect(delivery).toMatchObject({ webhookId: id, type: 'payment.settled', status: 'delivered', attempts: 1 })
    expect(json(await cli('replay', delivery.id, '--json'))).toEqual({ replayed: true, id: delivery.id })
    await until(() => receiver.received.length === 2, 'the replay', 30_000)

    expect(json(await cli('remove', id, '--json'))).toEqual({ removed: true, id })
    expect(json(await cli('list', '--json')).webhooks).toEqual([])
  }, 120_000)

  it('fails in one line of JSON, exit 1, with the reason and what to do', async () => {
    const bad = await cli('add', receiver.url, '--events', 'payment.paid', '--json')
    expect(bad.code).toBe(1)
    expect(json(bad)).toMatchObject({ error: 'invalid_webhook', message: expect.stringMatching(/events must be/) })
    const missing = await cli('replay', 'dlv_nope', '--json')
    expect(missing.code).toBe(1)
    expect(json(missing)).toMatchObject({ error: 'not_found' })
    const usage = await cli('add', receiver.url, '--json')
    expect(usage.code).toBe(1)
    expect(json(usage).message).toMatch(/give --events/)
  }, 60_000)
})
