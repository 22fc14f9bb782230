import type { SqliteDb } from '../ledger/openSqlite.js'
import type { CreditStore } from '../stores/types.js'
import { checkAccountsPage, checkAdjustment, checkRevenueQuery, overdrawn, reusedRef } from './creditAdmin.js'
import { callerOf, type RevenueRow, revenueEntryOf, type SqlitePost, type TxRow } from './creditRows.js'
import type { Posted } from './types.js'

/**
 * The SQLite credit ledger's operator calls (createCreditLedger.ts): the accounts listing,
 * `adjust` and the revenue's pages. `atomically` runs one write transaction, `post` writes one ledger
 * transaction in it, `guard` maps failures to `store_unavailable`.
 */
export function sqliteCreditAdmin(
  db: SqliteDb,
  tools: {
    guard: <T>(fn: () => T) => Promise<T>
    atomically: <T>(fn: () => T) => T
    post: SqlitePost
    availableOf: (account: string) => bigint
  },
): Pick<CreditStore, 'accounts' | 'adjust' | 'revenue'> {
  const { guard, atomically, post, availableOf } = tools
  // Available is the balance less the unposted tab; the last movement from the entries' index.
  const accounts = db.prepare(`SELECT substr(b.account, 8) AS account,
      CAST(b.balance - COALESCE((SELECT used FROM credit_tabs t WHERE t.account = b.account), 0) AS TEXT) AS available,
      CAST(COALESCE((SELECT balance FROM credit_balances h WHERE h.account = 'hold:' || substr(b.account, 8)), 0) AS TEXT) AS reserved,
      COALESCE((SELECT MAX(created_at) FROM credit_entries e WHERE e.account IN (b.account, 'hold:' || substr(b.account, 8))), 0) AS updated_at
    FROM credit_balances b WHERE b.account > ? AND b.account LIKE 'caller:%' ORDER BY b.account LIMIT ?`)
  const txByRef = db.prepare(
    "SELECT id, account, CAST(amount AS TEXT) AS amount FROM credit_transactions WHERE kind = 'adjust' AND ref = ?",
  )
  const debit = db.prepare(`UPDATE credit_balances SET balance = balance - CAST(@amount AS INTEGER)
    WHERE account = @account
      AND balance - COALESCE((SELECT used FROM credit_tabs WHERE account = @account), 0) >= CAST(@amount AS INTEGER)`)
  // Keyset pages on the revenue entries' own index (migration 2).
  const revenue = db.prepare(`SELECT e.id, e.transaction_id, t.account, CAST(e.amount AS TEXT) AS amount, t.kind, t.ref,
      t.note, e.created_at
    FROM credit_entries e JOIN credit_transactions t ON t.id = e.transaction_id
    WHERE e.account = 'system:revenue' AND e.created_at >= @from AND e.created_at < @to
      AND (e.created_at > @at OR (e.created_at = @at AND e.id > @id))
    ORDER BY e.created_at, e.id LIMIT @limit`)
  return {
    revenue: (query) =>
      guard(() => {
        const { from, to, after, limit } = checkRevenueQuery(query)
        const rows = revenue.all({ from, to, at: after.createdAt, id: after.id, limit }) as RevenueRow[]
        return rows.map(revenueEntryOf)
      }),
    accounts: (options) =>
      guard(() => {
        const { limit, after } = checkAccountsPage(options)
        const rows = accounts.all(`caller:${after}`, limit) as {
          account: string
          available: string
          reserved: string
          updated_at: number
        }[]
        return rows.map((r) => ({
          account: r.account,
          available: BigInt(r.available),
          reserved: BigInt(r.reserved),
          updatedAt: Number(r.updated_at),
        }))
      }),
    adjust: (input) =>
      guard(() => {
        checkAdjustment(input)
        return atomically((): Posted => {
          const existing = txByRef.get(input.ref) as TxRow | undefined
          if (existing) {
            // The transaction's amount is the signed adjustment.
            if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
              throw reusedRef(input.ref, existing)
            return { transactionId: existing.id, replayed: true }
          }
          const caller = callerOf(input.account)
          if (input.amount < 0n) {
            if (Number(debit.run({ account: caller, amount: String(-input.amount) }).changes) !== 1)
              throw overdrawn(input, availableOf(input.account))
            const id = post('adjust', input.ref, input.account, input.amount, input.reason, [
              [caller, input.amount, 'applied'],
              ['system:adjustments', -input.amount],
            ])
            return { transactionId: id, replayed: false }
          }
          const id = post('adjust', input.ref, input.account, input.amount, input.reason, [
            ['system:adjustments', -input.amount],
            [caller, input.amount],
          ])
          return { transactionId: id, replayed: false }
        })
      }),
  }
}
