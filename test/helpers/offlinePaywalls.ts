import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPaywall, type Paywall, type PaywallOptions } from '402x-api'

/**
 * Real paywalls on Base settings, with a SQLite ledger each in one temp folder and a
 * facilitator that is never called (for what needs no chain: documents, 402 bodies).
 * `close()` closes them all and removes the folder.
 */
export function offlinePaywalls(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const made: Paywall[] = []
  return {
    make(options: Record<string, unknown>): Paywall {
      const paywall = createPaywall({
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:8453',
        facilitator: 'http://127.0.0.1:9',
        ledger: join(dir, `ledger-${made.length}.db`),
        reconcileIntervalMs: 0,
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
