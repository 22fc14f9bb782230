import { randomUUID } from 'node:crypto'
import type { creditQueries } from './creditQueries.js'
import { callerOf, type SqlitePost, type TabRow } from './creditRows.js'
import type { CreditAccount } from './types.js'

/**
 * The SQLite credit ledger's tabs posted as `charge` transactions (createCreditLedger.ts):
 * one caller's, or all of them, each in its own transaction.
 *
 * @example
 * const { postTab, postTabs } = sqliteCreditTabs(q, atomically, post)
 */
export function sqliteCreditTabs(
  q: ReturnType<typeof creditQueries>,
  atomically: <T>(fn: () => T) => T,
  post: SqlitePost,
) {
  /** Posts one caller's tab (`caller:…`) as a `charge` transaction, in its own transaction. */
  const postTab = (caller: CreditAccount) =>
    atomically(() => {
      const row = q.tab.get(caller) as TabRow | undefined
      if (!row) return 0n
      const used = BigInt(row.used)
      q.closeTab.run({ account: caller })
      if (used === 0n) return 0n
      const note = `${row.charges} ${row.charges === 1 ? 'charge' : 'charges'}`
      post('charge', `tab_${randomUUID()}`, caller.slice('caller:'.length), used, note, [
        [caller, -used],
        ['system:revenue', used],
      ])
      return used
    })
  /**
   * Posts tabs (all, or one caller's), each in its own transaction, so that a tab that cannot
   * be posted stays where it is without holding back the others; the first such failure is
   * thrown once the rest are posted.
   */
  const postTabs = (account?: string) => {
    const callers =
      account === undefined
        ? (q.tabs.all() as { account: CreditAccount }[]).map((row) => row.account)
        : [callerOf(account)]
    let posted = 0n
    let failure: unknown
    for (const caller of callers) {
      try {
        posted += postTab(caller)
      } catch (error) {
        failure ??= error
      }
    }
    if (failure) throw failure
    return posted
  }
  return { postTab, postTabs }
}
