import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'

/**
 * Makes every payment in a ledger look a minute old: reconciliation leaves alone payments
 * touched in the last 5 s (they may be in flight).
 */
export function ageLedger(path: string): void {
  const db = openSqlite(path)
  try {
    db.prepare('UPDATE payments SET updated_at = updated_at - 60000').run()
  } finally {
    db.close()
  }
}
