import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { plans } from '../keys/plans.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

/**
 * Real paywalls with keys for the admin API's tests: a SQLite ledger each in one temp
 * folder, a facilitator that is never called (nothing here is paid with x402).
 */
export function adminPaywalls() {
  const dir = mkdtempSync(join(tmpdir(), '402x-admin-'))
  const made: Paywall[] = []
  return {
    make(options: Partial<PaywallOptions> & { network: string }): Paywall {
      const paywall = createPaywall({
        payTo: '0x1111111111111111111111111111111111111111',
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, `ledger-${made.length}.db`),
        reconcileIntervalMs: 0,
        ...(options.network === 'eip155:31337'
          ? { asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } } }
          : {}),
        routes: { 'GET /api/data': 0.01 },
        keys: { plans: [plans.free(), plans.payAsYouGo(), plans.tiered({ name: 'pro', monthly: 50_000 })] },
        ...options,
      } as PaywallOptions)
      made.push(paywall)
      return paywall
    },
    async close() {
      for (const paywall of made) await paywall.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Calls a paywall the way an adapter does and gives the answer it would send. */
export async function call(
  paywall: Paywall,
  method: string,
  path: string,
  options: { token?: string; ip?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown>; type: string }> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const request = new Request(`http://127.0.0.1:4021${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  const decision = await paywall.handle(request, undefined, { ip: options.ip ?? '127.0.0.1' })
  if (decision.type !== 'respond') return { status: 0, headers: new Headers(), json: {}, type: decision.type }
  const text = await decision.response.text()
  return {
    status: decision.response.status,
    headers: decision.response.headers,
    json: text ? JSON.parse(text) : {},
    type: decision.type,
  }
}
