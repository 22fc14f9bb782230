import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin, type DevProcess, startDevProcess } from '../helpers/devProcess.js'

// `402x dev` with its demo traffic on (as a user runs it), its dashboard link, and
// `402x stats` reading the same figures the dashboard shows.
const execFileAsync = promisify(execFile)
const env = { ...process.env }
delete env.X402_API_URL
delete env.X402_ADMIN_TOKEN
type Ready = { apiUrl: string; dashboardUrl: string; adminToken: string; demoTraffic: boolean }

async function cli(...args: string[]) {
  try {
    // In the dev's folder, as an operator runs it: the admin token comes from its .402x/dev.json.
    const { stdout, stderr } = await execFileAsync(process.execPath, [cliBin, ...args], {
      env,
      cwd: dev.dir,
      timeout: 30_000,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

let dev: DevProcess
let ready: Ready
beforeAll(async () => {
  dev = await startDevProcess({}, { args: ['--demo-traffic'] })
  ready = dev.ready as unknown as Ready
}, 90_000)
afterAll(async () => {
  await dev?.stop()
})

describe('402x dev: the dashboard', () => {
  it('prints a link that signs in, and the admin token; the link sets the cookie and drops the token', async () => {
    expect(ready.adminToken).toMatch(/^x402_admin_[\w-]{24}$/)
    expect(ready.dashboardUrl).toBe(`${ready.apiUrl}/__402x/dashboard/login?token=${ready.adminToken}`)
    expect(ready.demoTraffic).toBe(true)
    const link = await fetch(ready.dashboardUrl, { redirect: 'manual' })
    expect(link.status).toBe(303)
    expect(link.headers.get('location')).toBe('/__402x/dashboard/')
    expect(link.headers.get('set-cookie')).toMatch(/^x402_admin=.+HttpOnly; SameSite=Strict/)
    const page = await fetch(`${ready.apiUrl}/__402x/dashboard/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
  })

  it('has demo traffic flowing: paid, credit-funded and refused calls show in 402x stats', async () => {
    type Stats = { totals: Record<string, number | string>; byOutcome: Record<string, number> }
    let stats: Stats | undefined
    for (let i = 0; i < 60; i++) {
      const answer = await cli('stats', '--url', ready.apiUrl, '--json')
      expect(answer.code).toBe(0)
      stats = JSON.parse(answer.stdout) as Stats
      const o = stats.byOutcome
      if ((o.paid ?? 0) > 0 && (o.credit ?? 0) > 0 && (o['402'] ?? 0) > 0) break
      await new Promise((resolve) => setTimeout(resolve, 2_000))
    }
    expect(stats?.byOutcome.paid).toBeGreaterThan(0)
    expect(stats?.byOutcome.credit).toBeGreaterThan(0)
    expect(stats?.byOutcome['402']).toBeGreaterThan(0)
    expect(Number(stats?.totals.revenue)).toBeGreaterThan(0)
  }, 150_000)

  it('402x stats prints a summary, and refuses a range it does not know', async () => {
    const human = await cli('stats', '--url', ready.apiUrl, '--range', 'day')
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/the last day/)
    expect(human.stdout).toMatch(/revenue {2}\$[0-9.]+ in \d+ payments/)
    const wrong = await cli('stats', '--url', ready.apiUrl, '--range', 'week', '--json')
    expect(wrong.code).toBe(1)
    expect(JSON.parse(wrong.stdout)).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/--range day/),
    })
  })
})
