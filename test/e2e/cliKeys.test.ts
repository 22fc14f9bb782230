import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { plans, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin, type DevProcess, startDevProcess } from '../helpers/devProcess.js'

// `402x keys` as an operator runs it, against a real `402x dev` (run in its folder: the
// admin token comes from its .402x/dev.json), and against a Base API behind X402_ADMIN_TOKEN.
const execFileAsync = promisify(execFile)
const env = { ...process.env }
delete env.X402_API_URL
delete env.X402_ADMIN_TOKEN
type Result = { code: number; stdout: string; stderr: string }

/** `402x …` in the dev's folder (`cwd` another one), as an operator runs it beside `402x dev`. */
async function cli(...args: string[]): Promise<Result> {
  return cliIn(dev.dir, ...args)
}
async function cliIn(cwd: string, ...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cliBin, ...args], {
      env,
      cwd,
      timeout: 30_000,
    })
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

type DemoKey = { plan: string; name: string; id: string; key?: string; credit?: string }
let dev: DevProcess
beforeAll(async () => {
  dev = await startDevProcess()
}, 60_000)
afterAll(async () => {
  await dev?.stop()
})

describe('402x dev: demo API keys', () => {
  it('prints one key per plan in its --json ready line, and a key is served on /api/keyed/quote', async () => {
    const ready = dev.ready as unknown as { demoKeys: DemoKey[]; keyedEndpoint: { url: string } }
    expect(ready.demoKeys.map((k) => [k.plan, k.name])).toEqual([
      ['free', 'demo-free'],
      ['pay-as-you-go', 'demo-pay-as-you-go'],
      ['pro', 'demo-pro'],
    ])
    for (const k of ready.demoKeys) expect(k.key).toMatch(/^x402_test_[A-Za-z0-9]{32}$/)
    expect(ready.demoKeys[1]?.credit).toBe('1')
    for (const k of ready.demoKeys) {
      const answer = await fetch(ready.keyedEndpoint.url, { headers: { authorization: `Bearer ${k.key}` } })
      expect(answer.status).toBe(200)
      expect(await answer.json()).toMatchObject({ symbol: 'ETH' })
    }
    // Without a key, it asks for a payment like any paid route.
    expect((await fetch(ready.keyedEndpoint.url)).status).toBe(402)
  })
})

describe('402x keys against 402x dev', () => {
  it('creates, lists, shows usage and revokes with --json, one line each', async () => {
    const url = dev.ready.apiUrl
    const created = json(
      await cli(
        'keys',
        'create',
        '--plan',
        'pro',
        '--name',
        'alice',
        '--owner',
        'a@x.io',
        '--expires',
        '30d',
        '--url',
        url,
        '--json',
      ),
    )
    expect(created.key).toMatch(/^x402_test_/)
    expect(created.info).toMatchObject({ name: 'alice', plan: 'pro', owner: 'a@x.io', state: 'active' })
    const id = created.info.id as string

    const listed = json(await cli('keys', 'list', '--plan', 'pro', '--url', url, '--json'))
    expect(listed.keys.map((k: { id: string }) => k.id)).toContain(id)

    const served = await fetch(`${url}/api/keyed/quote`, { headers: { 'x-api-key': created.key } })
    expect(served.status).toBe(200)
    const usage = json(await cli('keys', 'usage', id, '--url', url, '--json'))
    expect(usage).toMatchObject({ keyId: id, total: { calls: 1, amount: '0' } })
    expect(usage.lines).toEqual([{ route: 'GET /api/keyed/quote', calls: 1, units: 1, amount: '0' }])

    const revoked = json(await cli('keys', 'revoke', id, '--url', url, '--json'))
    expect(revoked).toMatchObject({ revoked: true, info: { id, state: 'revoked' }, minted: [], creditTokens: 0 })
    const refused = await fetch(`${url}/api/keyed/quote`, { headers: { 'x-api-key': created.key } })
    expect(refused.status).toBe(401)
    const again = await cli('keys', 'revoke', id, '--url', url, '--json')
    expect(again.code).toBe(1)
    expect(json(again)).toMatchObject({ error: 'key_revoked' })
    const all = json(await cli('keys', 'list', '--all', '--url', url, '--json'))
    expect(all.keys).toContainEqual(expect.objectContaining({ id, state: 'revoked' }))
  })

  it('prints a human answer: the key alone on stdout, what it is on stderr; grants credit', async () => {
    const url = dev.ready.apiUrl
    const made = await cli('keys', 'create', '--plan', 'pay-as-you-go', '--name', 'bob', '--url', url)
    expect(made.code).toBe(0)
    expect(made.stdout).toMatch(/^x402_test_[A-Za-z0-9]{32}\n$/)
    expect(made.stderr).toMatch(/created key key_\S+ "bob" on plan pay-as-you-go/)
    expect(made.stderr).toMatch(/shown once/)
    const list = await cli('keys', 'list', '--url', url)
    expect(list.stdout).toMatch(/^ID\s+NAME\s+PLAN\s+STATE/)
    expect(list.stdout).toMatch(/bob\s+pay-as-you-go\s+active/)
    const id = /created key (key_\S+)/.exec(made.stderr)?.[1] as string
    const granted = await cli('keys', 'grant', id, '2.5', '--ref', 'inv-1', '--url', url)
    expect(granted.code).toBe(0)
    expect(granted.stderr).toMatch(/granted \$2\.5 to key_\S+; available \$2\.5/)
    const unknown = await cli('keys', 'usage', 'key_nope', '--url', url)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/402x: there is no key key_nope/)
  })

  it('finds the API of a running 402x dev from .402x/dev.json with no --url', async () => {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cliBin, 'keys', 'list', '--json'], {
      env,
      cwd: dev.dir,
      timeout: 30_000,
    })
    expect(stderr).toBe('')
    expect(JSON.parse(stdout).keys.length).toBeGreaterThanOrEqual(3)
  })

  it('needs the token from this machine too: elsewhere without it, 401 saying where it is', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), '402x-elsewhere-'))
    try {
      const refused = await cliIn(elsewhere, 'keys', 'list', '--url', dev.ready.apiUrl, '--json')
      expect(refused.code).toBe(1)
      expect(json(refused)).toMatchObject({ error: 'invalid_admin_token', message: expect.stringMatching(/402x dev/) })
      const token = dev.ready.adminToken
      const given = await cliIn(elsewhere, 'keys', 'list', '--url', dev.ready.apiUrl, '--token', token, '--json')
      expect(given.code).toBe(0)
      // What a page in this machine's browser could send: no token, so nothing is made.
      const forged = await fetch(`${dev.ready.apiUrl}/__402x/admin/keys`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'http://evil.localhost' },
        body: JSON.stringify({ name: 'csrf', plan: 'pro' }),
      })
      expect(forged.status).toBe(401)
      expect(json(given).keys.map((k: { name: string }) => k.name)).not.toContain('csrf')
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  })
})

describe('402x keys against an API on Base with X402_ADMIN_TOKEN', () => {
  let server: Server
  let url: string
  let close: () => Promise<void>
  const dir = mkdtempSync(join(tmpdir(), '402x-cli-keys-'))
  beforeAll(async () => {
    const middleware = x402Middleware({
      payTo: '0x1111111111111111111111111111111111111111',
      network: 'eip155:8453',
      facilitator: 'http://127.0.0.1:9',
      ledger: join(dir, 'ledger.db'),
      reconcileIntervalMs: 0,
      routes: { 'GET /api/data': 0.01 },
      keys: { plans: [plans.free()] },
      adminToken: 'operator-secret',
    })
    const app = express()
    app.use(middleware)
    server = createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    close = () => middleware.paywall.close()
  })
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve))
    await close?.()
    rmSync(dir, { recursive: true, force: true })
  })

  it('sends --token, else X402_ADMIN_TOKEN; a wrong one fails with the server’s message', async () => {
    const ok = json(
      await cli(
        'keys',
        'create',
        '--plan',
        'free',
        '--name',
        'c',
        '--url',
        url,
        '--token',
        'operator-secret',
        '--json',
      ),
    )
    expect(ok.key).toMatch(/^x402_live_/)
    const wrong = await cli('keys', 'list', '--url', url, '--token', 'nope', '--json')
    expect(wrong.code).toBe(1)
    expect(json(wrong)).toMatchObject({
      error: 'invalid_admin_token',
      message: expect.stringMatching(/X402_ADMIN_TOKEN/),
    })
    const { stdout } = await execFileAsync(process.execPath, [cliBin, 'keys', 'list', '--url', url, '--json'], {
      env: { ...env, X402_ADMIN_TOKEN: 'operator-secret' },
      timeout: 30_000,
    })
    expect(JSON.parse(stdout).keys).toHaveLength(1)
  })
})
