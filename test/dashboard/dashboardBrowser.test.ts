import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { formatMoney } from '@402x/core'
import { wrapFetch } from '402x-client'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'
import { type DevProcess, startDevProcess } from '../helpers/devProcess.js'
import { skipOrFail } from '../helpers/services.js'

// The dashboard as a seller sees it: a real `402x dev` (chain, facilitator, demo API), paid
// traffic from a real wallet, and Debian's Chromium driven by playwright-core. The page's
// figures are compared with the ledger's own rows; screenshots go to test-results/.
const chromiumPath = '/usr/bin/chromium'
const hasChromium = existsSync(chromiumPath) || skipOrFail(`${chromiumPath} is missing (apt-get install chromium)`)
const shots = join(process.cwd(), 'test-results')

let dev: DevProcess
let browser: Browser
let dashboardUrl: string
const savedStateDir = process.env.X402_STATE_DIR

/** What the ledger file says: money received (settled, pending, reconciled) and settled payments. */
function ledger(): { revenue: string; settled: number } {
  const db = openSqlite(join(dev.dir, '.402x', 'ledger.db'))
  try {
    const rows = db.prepare('SELECT state, amount FROM payments').all() as { state: string; amount: string }[]
    const earned = rows.filter((r) => ['settled', 'pending', 'reconciled'].includes(r.state))
    return {
      revenue: formatMoney(earned.reduce((sum, r) => sum + BigInt(r.amount), 0n)),
      settled: rows.filter((r) => r.state === 'settled' || r.state === 'reconciled').length,
    }
  } finally {
    db.close()
  }
}

/** An attribute of every element with a test id, in order (missing ones left out). */
const attrs = async (page: Page, testId: string, name: string) =>
  (await Promise.all((await page.getByTestId(testId).all()).map((el) => el.getAttribute(name)))).filter(
    (v): v is string => v !== null,
  )

const attr = (page: Page, testId: string, name = 'data-value') =>
  page.getByTestId(testId).first().getAttribute(name, { timeout: 20_000 })

describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    dev = await startDevProcess()
    process.env.X402_STATE_DIR = join(dev.dir, '.402x')
    dashboardUrl = (dev.ready as unknown as { dashboardUrl: string }).dashboardUrl
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    mkdirSync(shots, { recursive: true })
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await dev?.stop()
    if (savedStateDir === undefined) delete process.env.X402_STATE_DIR
    else process.env.X402_STATE_DIR = savedStateDir
  })

  const pay = () => wrapFetch(fetch, { wallet: dev.ready.buyerPrivateKey, budget: { maxPerRequest: 0.05 } })

  it('shows the ledger’s figures after paid traffic, signed in by the link (the token gone from the address)', async () => {
    const paid = pay()
    for (const path of ['/api/market/ETH', '/api/market/BTC', '/api/market/ETH']) {
      expect((await paid(`${dev.ready.apiUrl}${path}`)).status).toBe(200)
    }
    const generate = await paid(`${dev.ready.apiUrl}/api/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a cat' }),
    })
    expect(generate.status).toBe(200)
    // Refused: no payment.
    expect((await fetch(`${dev.ready.apiUrl}/api/market/SOL`)).status).toBe(402)

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const elsewhere: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(dev.ready.apiUrl)) elsewhere.push(r.url())
    })
    try {
      await page.goto(dashboardUrl)
      expect(page.url()).toBe(`${dev.ready.apiUrl}/__402x/dashboard/`)
      const cookies = await context.cookies()
      expect(cookies.find((c) => c.name === 'x402_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
      const books = ledger()
      expect(books).toEqual({ revenue: '0.013', settled: 4 })
      expect(await attr(page, 'total-revenue')).toBe(books.revenue)
      await expect
        .poll(() => page.getByTestId('settled').textContent(), { timeout: 20_000 })
        .toBe(String(books.settled))
      expect(await page.getByTestId('outcome-paid').textContent()).toBe('4')
      // Each paid call was asked to pay first (402), and one call never paid.
      expect(Number(await page.getByTestId('outcome-402').textContent())).toBe(5)
      const routeRevenue = (await attrs(page, 'route-revenue', 'data-value')).reduce((sum, v) => sum + Number(v), 0)
      expect(routeRevenue.toFixed(6)).toBe(Number(books.revenue).toFixed(6))
      await expect.poll(() => page.getByTestId('live-status').textContent(), { timeout: 20_000 }).toBe('live')
      // The demo keys, one per plan, with their calls against the plan's quota.
      await page.getByTestId('keys').waitFor({ timeout: 20_000 })
      expect(await page.getByTestId('keys').locator('li').count()).toBeGreaterThanOrEqual(3)
      // No webhook registered: the panel says how to add one.
      await page.getByTestId('webhooks').getByText('No webhooks yet').waitFor({ timeout: 20_000 })
      // The payer's drill-down lists its payments (GET /__402x/admin/payments?payer=).
      await page.getByTestId('top-user').first().click()
      await page.getByTestId('drill').getByText('settled').first().waitFor({ timeout: 20_000 })
      await page.screenshot({ path: join(shots, 'dashboard-desktop.png'), fullPage: true })
      expect(elsewhere).toEqual([])
    } finally {
      await context.close()
    }
  })

  it('shows a new payment live, without a reload', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await page.goto(dashboardUrl)
      await expect.poll(() => page.getByTestId('live-status').textContent(), { timeout: 20_000 }).toBe('live')
      const before = await attrs(page, 'settlement', 'data-id')
      // Strings: the test's own types have no DOM.
      await page.evaluate('window.notReloaded = true')
      expect((await pay()(`${dev.ready.apiUrl}/api/market/SOL`)).status).toBe(200)
      const books = ledger()
      await expect.poll(() => attrs(page, 'settlement', 'data-id'), { timeout: 20_000 }).toHaveLength(before.length + 1)
      await expect.poll(() => attr(page, 'total-revenue'), { timeout: 20_000 }).toBe(books.revenue)
      expect(books.revenue).toBe('0.014')
      await expect.poll(() => page.getByTestId('live-request').count(), { timeout: 20_000 }).toBeGreaterThan(0)
      expect(await page.evaluate('window.notReloaded')).toBe(true)
      await page.screenshot({ path: join(shots, 'dashboard-live.png') })
    } finally {
      await context.close()
    }
  })

  it('fits a phone: 390 px wide, nothing scrolls sideways', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
    })
    const page = await context.newPage()
    try {
      await page.goto(dashboardUrl)
      await page.getByTestId('total-revenue').waitFor({ timeout: 20_000 })
      await page.getByTestId('series-chart').waitFor({ timeout: 20_000 })
      const widths = (await page.evaluate(
        '({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })',
      )) as { page: number; body: number; viewport: number }
      expect(widths.viewport).toBe(390)
      expect(widths.page).toBeLessThanOrEqual(widths.viewport)
      expect(widths.body).toBeLessThanOrEqual(widths.viewport)
      await page.screenshot({ path: join(shots, 'dashboard-phone.png'), fullPage: true })
    } finally {
      await context.close()
    }
  })
})
