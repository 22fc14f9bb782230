import type { Pg } from '../postgres/openPostgres.js'
import type { CreditStore } from '../stores/types.js'
import { checkAccountsPage, checkAdjustment, checkRevenueQuery, overdrawn, reusedRef } from './creditAdmin.js'
import { callerOf, type RevenueRow, revenueEntryOf } from './creditRows.js'
import { lockBalances, lockRef, post, type Write } from './postgresCreditPosting.js'

/**
 * The PostgreSQL credit store's operator calls (createPostgresCreditStore.ts): the accounts
 * listing, the revenue's pages and `adjust`, one transaction that locks the ref and the caller's balance row
 * before it decides (as `payout`), so no adjustment overdraws across instances.
 */
export function postgresCreditAdmin(
  sql: Pg,
  call: <T>(fn: () => Promise<T>) => Promise<T>,
  write: <T>(fn: (w: Write) => Promise<T>) => Promise<T>,
  clock: () => number,
): Pick<CreditStore, 'accounts' | 'adjust' | 'revenue'> {
  return {
    revenue: async (query) => {
      const { from, to, after, limit } = checkRevenueQuery(query)
      return call(async () => {
        // Keyset pages on the revenue entries' own index (migration 3).
        const rows = await sql<
          RevenueRow[]
        >`select e.id, e.transaction_id, t.account, e.amount::text as amount, t.kind, t.ref, t.note, e.created_at
          from x402_credit_entries e join x402_credit_transactions t on t.id = e.transaction_id
          where e.account = 'system:revenue' and e.created_at >= ${from} and e.created_at < ${to}
            and (e.created_at, e.id) > (${after.createdAt}::bigint, ${after.id}::bigint)
          order by e.created_at, e.id limit ${limit}`
        return rows.map(revenueEntryOf)
      })
    },
    accounts: async (options) => {
      const { limit, after } = checkAccountsPage(options)
      return call(async () => {
        const rows = await sql<{ account: string; available: string; reserved: string; updated_at: bigint | null }[]>`
          select substr(b.account, 8) as account, b.balance::text as available,
            coalesce((select h.balance from x402_credit_balances h where h.account = 'hold:' || substr(b.account, 8)), 0)::text as reserved,
            greatest(
              (select e.created_at from x402_credit_entries e where e.account = b.account order by e.id desc limit 1),
              (select e.created_at from x402_credit_entries e where e.account = 'hold:' || substr(b.account, 8) order by e.id desc limit 1)
            ) as updated_at
          from x402_credit_balances b
          where b.account like 'caller:%' and b.account > ${`caller:${after}`}
          order by b.account limit ${limit}`
        return rows.map((r) => ({
          account: r.account,
          available: BigInt(r.available),
          reserved: BigInt(r.reserved),
          updatedAt: Number(r.updated_at ?? 0),
        }))
      })
    },
    adjust: async (input) => {
      checkAdjustment(input)
      return write(async (w) => {
        await lockRef(w, 'adjust', input.ref)
        const [existing] = await w.tx<{ id: bigint; account: string; amount: string }[]>`
          select id, account, amount::text as amount from x402_credit_transactions where kind = 'adjust' and ref = ${input.ref}`
        if (existing) {
          if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
            throw reusedRef(input.ref, existing)
          return { transactionId: Number(existing.id), replayed: true }
        }
        const caller = callerOf(input.account)
        const available = (await lockBalances(w, [caller])).get(caller) ?? 0n
        if (available + input.amount < 0n) throw overdrawn(input, available)
        const [id] = await post(
          w,
          [
            {
              kind: 'adjust',
              ref: input.ref,
              account: input.account,
              amount: input.amount,
              note: input.reason,
              postings: [
                ['system:adjustments', -input.amount],
                [caller, input.amount],
              ],
            },
          ],
          clock(),
        )
        return { transactionId: id as number, replayed: false }
      })
    },
  }
}
