import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

/** Fast retries for tests: the same code paths as the defaults, in milliseconds. */
export const fastDelivery = { pollIntervalMs: 50, initialBackoffMs: 100, maxBackoffMs: 400, timeoutMs: 2_000 }

/**
 * Real paywalls for the webhook tests, on the local chain (receivers on 127.0.0.1 are
 * allowed there): a SQLite ledger in a temp folder unless `ledger` is given, a facilitator
 * never called (payments are recorded and moved in the ledger, as the pipeline does).
 */
export function webhookPaywalls() {
  const dir = mkdtempSync(join(tmpdir(), '402x-webhooks-'))
  const made: Paywall[] = []
  return {
    dir,
    ledgerFile: join(dir, 'ledger.db'),
    make(options: Partial<PaywallOptions> = {}): Paywall {
      const paywall = createPaywall({
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:31337',
        // Another network takes its own USDC.
        ...(options.network === undefined || options.network === 'eip155:31337'
          ? { asset: { address: '0x2222222222222222222222222222222222222222', eip712: { name: 'USDC', version: '2' } } }
          : {}),
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, 'ledger.db'),
        reconcileIntervalMs: 0,
        routes: { 'GET /api/data': 0.01 },
        ...options,
      } as PaywallOptions)
      made.push(paywall)
      return paywall
    },
    async close() {
      for (const paywall of made.splice(0)) await paywall.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Records a payment and settles it in the paywall's ledger, as `settleAndServe` does. */
export async function settlePayment(paywall: Paywall, state: 'settled' | 'pending' | 'failed' = 'settled') {
  const payment = newPayment()
  await paywall.config.ledger.insert(payment)
  const moved = await paywall.config.ledger.transition(payment.id, state, { transaction: `0x${'ab'.repeat(32)}` })
  if (!moved) throw new Error(`the payment ${payment.id} did not move to ${state}`)
  return payment
}
