import { readdirSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'

/**
 * Waits (5 s at most) until every payment the ledgers on `path` have acknowledged is in the
 * SQLite file: each ledger journals a payment first and writes it within `writeBehindMs`
 * (50 ms), and its journal is empty once it has.
 */
export async function ledgerWritten(path: string): Promise<void> {
  const prefix = `${basename(path)}-journal-`
  const dir = dirname(path)
  const pendingJournals = () =>
    readdirSync(dir).filter((name) => {
      if (!name.startsWith(prefix)) return false
      try {
        return statSync(join(dir, name)).size > 0
      } catch {
        return false
      }
    })
  const deadline = Date.now() + 5_000
  while (pendingJournals().length > 0) {
    if (Date.now() > deadline)
      throw new Error(`the ledger at ${path} still has journaled payments: ${pendingJournals()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Makes every payment in a ledger look a minute old: reconciliation leaves alone payments
 * touched in the last 5 s (they may be in flight). Waits for the journaled ones first.
 */
export async function ageLedger(path: string): Promise<void> {
  await ledgerWritten(path)
  const db = openSqlite(path)
  try {
    db.prepare('UPDATE payments SET updated_at = updated_at - 60000').run()
  } finally {
    db.close()
  }
}
