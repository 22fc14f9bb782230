import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevProcess, startDevProcess } from '../helpers/devProcess.js'

// The developer portal of a real `402x dev` (its demo API mounts a middleware per route, and
// a credit-only one first): before any call, the portal lists every priced route of the demo
// with its price, over HTTP and in Debian's Chromium, and signs in with the demo's API keys.
const root = fileURLToPath(new URL('../..', import.meta.url))
const shots = `${root}test-results`
let dev: DevProcess
let browser: Browser | undefined

type Ready = { apiUrl: string; demoKeys: { plan: string; key?: string }[] }
type Doc = {
  info: { title: string }
  paths: Record<string, Record<string, { 'x-payment-info'?: { price: { mode: string; amount?: string } } }>>
}

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-ui.js', 'portal'], { cwd: root, stdio: 'pipe' })
  mkdirSync(shots, { recursive: true })
  dev = await startDevProcess()
}, 90_000)
afterAll(async () => {
  await browser?.close()
  await dev?.stop()
})

describe('402x dev: the developer portal', () => {
  it('lists every priced route of the demo with its price, and takes its API keys', async () => {
    const { apiUrl, demoKeys } = dev.ready as unknown as Ready
    const answer = await fetch(`${apiUrl}/__402x/portal/api/openapi.json`)
    expect(answer.status).toBe(200)
    const doc = (await answer.json()) as Doc
    const prices: Record<string, string> = {}
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const price = op['x-payment-info']?.price
        if (price) prices[`${method.toUpperCase()} ${path}`] = price.amount ?? price.mode
      }
    }
    expect(prices).toEqual({
      'POST /api/generate': '0.01',
      'GET /api/market/{symbol}': '0.001',
      'POST /api/translate': '0.02',
      'POST /api/image': 'dynamic',
      'POST /api/complete': '0.015',
      'GET /api/keyed/quote': '0.001',
    })
    expect(doc.info.title).toBe('402x demo API')

    const info = (await (await fetch(`${apiUrl}/__402x/portal/api/info`)).json()) as { signIn: { apiKey: boolean } }
    expect(info.signIn.apiKey).toBe(true)
    const key = demoKeys.find((k) => k.plan === 'free')?.key as string
    const signed = await fetch(`${apiUrl}/__402x/portal/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: key }),
    })
    expect(signed.status).toBe(200)
    expect(await signed.json()).toMatchObject({ kind: 'key' })
  })

  it('shows them on the page, each with its price', async () => {
    const { apiUrl } = dev.ready
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    const page = await browser.newPage()
    try {
      await page.goto(`${apiUrl}/__402x/portal`)
      await page.locator('tr.route').first().waitFor({ timeout: 15_000 })
      const rows = await page.locator('tr.route').allTextContents()
      expect(rows).toHaveLength(6)
      for (const [path, price] of [
        ['/api/generate', '$0.01'],
        ['/api/market/{symbol}', '$0.001'],
        ['/api/translate', '$0.02'],
        ['/api/image', 'priced per request'],
        ['/api/complete', '$0.015'],
        ['/api/keyed/quote', '$0.001'],
      ] as const) {
        expect(rows.some((r) => r.includes(path) && r.includes(price))).toBe(true)
      }
      expect(await page.locator('h1').textContent()).toBe('402x demo API')
      await page.screenshot({ path: `${shots}/portal-dev-routes.png`, fullPage: true })
    } finally {
      await page.close()
    }
  })
})
