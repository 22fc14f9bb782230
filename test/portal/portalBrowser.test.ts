import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { plans, x402Middleware } from '402x-api'
import express from 'express'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// The developer portal in Debian's Chromium against a real anvil: the page lists the priced
// routes and their prices, try-it shows the 402, an API-key sign-in shows that key's usage,
// and a wallet (an injected EIP-1193 provider signing with an anvil dev key through viem: real
// signatures, checked by the real server) signs in and tops its credit up on the local chain.
const root = fileURLToPath(new URL('../..', import.meta.url))
const shots = `${root}test-results`
let stack: Stack
let server: Server
let url: string
let browser: Browser
let paywall: ReturnType<typeof x402Middleware>['paywall']

beforeAll(async () => {
  // The page as the sources are now: vite into packages/api/dist/ui/portal.
  execFileSync(process.execPath, ['scripts/build-ui.js', 'portal'], { cwd: root, stdio: 'pipe' })
  mkdirSync(shots, { recursive: true })
  stack = await startStack()
  const app = express()
  const middleware = x402Middleware({
    ...stack.paywall(),
    discovery: { title: 'Weather API' },
    routes: {
      'GET /api/weather/:city': { price: 0.01, description: 'Current weather for a city' },
      'POST /api/forecast': { price: 0.05, description: 'A 7-day forecast' },
    },
    keys: { plans: [plans.free()] },
    portal: { selfServiceKeys: { plans: ['free'] } },
  })
  paywall = middleware.paywall
  app.use(middleware)
  app.get('/api/weather/:city', (req, res) => res.json({ city: req.params.city, tempC: 21 }))
  app.post('/api/forecast', (_req, res) => res.json({ days: 7 }))
  server = app.listen(0, '127.0.0.1')
  url = await listen(server)
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
})

afterAll(async () => {
  await browser?.close()
  await close(server)
  await paywall?.close()
  await stack?.stop()
})

/** A page that records every request it makes, so that no other host is ever asked. */
async function openPortal(page: Page): Promise<string[]> {
  const asked: string[] = []
  page.on('request', (request) => asked.push(request.url()))
  await page.goto(`${url}/__402x/portal`)
  await page.locator('tr.route').first().waitFor({ timeout: 15_000 })
  return asked
}

describe('portal in a browser', () => {
  it('lists the priced routes with their prices, and try-it shows the 402 challenge', async () => {
    const page = await browser.newPage()
    try {
      const asked = await openPortal(page)
      const rows = await page.locator('tr.route').allTextContents()
      expect(rows.some((r) => r.includes('/api/weather/{city}') && r.includes('$0.01'))).toBe(true)
      expect(rows.some((r) => r.includes('/api/forecast') && r.includes('$0.05'))).toBe(true)
      await page.screenshot({ path: `${shots}/portal-routes.png`, fullPage: true })

      await page.locator('tr.route', { hasText: '/api/weather' }).getByText('Try').click()
      await page.locator('input[name="path"]').fill('/api/weather/paris')
      await page.getByRole('button', { name: 'Send' }).click()
      await page.locator('.result[data-status="402"]').waitFor({ timeout: 15_000 })
      const challenge = await page.locator('.challenge').textContent()
      expect(challenge).toContain('10000 atomic units')
      expect(challenge).toContain(stack.chain.network)
      await page.screenshot({ path: `${shots}/portal-try-402.png`, fullPage: true })
      expect(asked.every((u) => u.startsWith(url))).toBe(true)
    } finally {
      await page.close()
    }
  })

  it("signs in with an API key and shows that key's usage", async () => {
    const { key } = await paywall.keys!.create({ name: 'my app', plan: 'free', owner: 'dev@example.com' })
    for (const city of ['paris', 'oslo']) {
      const served = await fetch(`${url}/api/weather/${city}`, { headers: { authorization: `Bearer ${key}` } })
      expect(served.status).toBe(200)
    }
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    try {
      await openPortal(page)
      await page.locator('input[name="apiKey"]').fill(key)
      await page.getByRole('button', { name: 'Sign in with API key' }).click()
      await expect.poll(() => page.locator('#usage-calls').textContent(), { timeout: 15_000 }).toBe('2')
      expect(await page.locator('#usage').textContent()).toContain('GET /api/weather/:city')
      expect(await page.locator('#signed-in-as').textContent()).toContain('my app')
      await page.screenshot({ path: `${shots}/portal-key-usage-phone.png`, fullPage: true })
    } finally {
      await page.close()
    }
  })

  it('signs in with a browser wallet and tops its credit up on the local chain', async () => {
    const buyer = stack.chain.buyers[0]!
    const account = privateKeyToAccount(buyer.privateKey)
    const context = await browser.newContext()
    // The wallet's keys stay in the test: the page's provider asks this function to sign.
    await context.exposeFunction('__walletSign', async (method: string, params: unknown[]) => {
      if (method === 'personal_sign') return account.signMessage({ message: { raw: params[0] as Hex } })
      if (method === 'eth_signTypedData_v4') {
        const data = JSON.parse(params[1] as string)
        const { EIP712Domain: _domain, ...types } = data.types
        return account.signTypedData({
          domain: data.domain,
          types,
          primaryType: data.primaryType,
          message: data.message,
        })
      }
      throw new Error(`unsupported ${method}`)
    })
    await context.addInitScript((address: string) => {
      const w = globalThis as unknown as {
        ethereum: unknown
        __walletSign(method: string, params: unknown[]): Promise<string>
      }
      w.ethereum = {
        isTestWallet: true,
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [address]
          if (method === 'eth_chainId') return '0x7a69'
          return w.__walletSign(method, params ?? [])
        },
      }
    }, account.address)
    const page = await context.newPage()
    try {
      const asked = await openPortal(page)
      const before = await stack.chain.balanceOf(stack.chain.payTo.address)
      await page.getByRole('button', { name: 'Sign in with wallet' }).click()
      await expect
        .poll(() => page.locator('#signed-in-as').textContent(), { timeout: 15_000 })
        .toBe(`${account.address.slice(0, 6)}…${account.address.slice(-4)}`.toLowerCase())
      await expect.poll(() => page.locator('#credit-balance').textContent(), { timeout: 15_000 }).toBe('$0')

      await page.locator('input[name="amount"]').fill('2')
      await page.getByRole('button', { name: 'Top up with wallet' }).click()
      await expect.poll(() => page.locator('#credit-balance').textContent(), { timeout: 30_000 }).toBe('$2')
      expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(before + 2_000_000n)
      expect(await page.locator('#credit').textContent()).toContain('Top-up')

      // The credit token the top-up used is set in try-it: the paid call is drawn from credit.
      await page.locator('tr.route', { hasText: '/api/weather' }).getByText('Try').click()
      await page.locator('input[name="path"]').fill('/api/weather/rome')
      await page.getByRole('button', { name: 'Send' }).click()
      await page.locator('.result[data-status="200"]').waitFor({ timeout: 15_000 })
      expect(await page.locator('.result .body').textContent()).toContain('rome')
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('button', { name: 'Sign in with wallet' }).waitFor({ timeout: 15_000 })
      await page.getByRole('button', { name: 'Sign in with wallet' }).click()
      await expect.poll(() => page.locator('#credit-balance').textContent(), { timeout: 15_000 }).toBe('$1.99')
      await page.screenshot({ path: `${shots}/portal-wallet-topup.png`, fullPage: true })
      expect(asked.every((u) => u.startsWith(url))).toBe(true)
    } finally {
      await context.close()
    }
  })
})
