import type { Pg } from '../postgres/openPostgres.js'
import type { CreditStore } from '../stores/types.js'
import { callerOf, checkText, holdOf, invalid } from './creditRows.js'
import { type EntryRow, entryOf, type Write } from './postgresCreditPosting.js'
import { hashToken, tokenPrefix } from './tokens.js'

/**
 * The PostgreSQL credit store's reads and tokens (createPostgresCreditStore.ts): `call` runs
 * a statement as the store's other calls (schema first, failures as `store_unavailable`),
 * `write` one transaction that notifies the other store objects if it wrote. Only a token's
 * sha256 is stored.
 */
export function postgresCreditLookups(
  sql: Pg,
  call: <T>(fn: () => Promise<T>) => Promise<T>,
  write: <T>(fn: (w: Write) => Promise<T>) => Promise<T>,
  clock: () => number,
): Pick<
  CreditStore,
  | 'balance'
  | 'topUpAccount'
  | 'grantOf'
  | 'entries'
  | 'linkToken'
  | 'revokeToken'
  | 'revokeTokensOf'
  | 'accountForToken'
> {
  return {
    balance: async (account) => {
      checkText(account, 'account')
      // One statement, one snapshot: a reservation is never counted in both or in neither.
      return call(async () => {
        const [row] = await sql<{ available: string; reserved: string }[]>`
          select coalesce(max(balance) filter (where account = ${callerOf(account)}), 0)::text as available,
                 coalesce(max(balance) filter (where account = ${holdOf(account)}), 0)::text as reserved
          from x402_credit_balances where account in (${callerOf(account)}, ${holdOf(account)})`
        return { available: BigInt(row?.available ?? 0), reserved: BigInt(row?.reserved ?? 0) }
      })
    },
    topUpAccount: (ref) =>
      call(async () => {
        const [row] = await sql<{ account: string }[]>`
          select account from x402_credit_transactions where kind = 'top_up' and ref = ${ref}`
        return row?.account
      }),
    grantOf: (ref) =>
      call(async () => {
        const [row] = await sql<{ account: string; amount: string }[]>`
          select account, amount::text as amount from x402_credit_transactions where kind = 'grant' and ref = ${ref}`
        return row && { account: row.account, amount: BigInt(row.amount) }
      }),
    entries: async (account, { limit = 100 } = {}) => {
      checkText(account, 'account')
      return call(async () => {
        const rows = await sql<EntryRow[]>`
          select e.id, e.transaction_id, e.account, e.amount::text as amount, t.kind, t.ref, t.note, e.created_at
          from x402_credit_entries e join x402_credit_transactions t on t.id = e.transaction_id
          where e.account in (${callerOf(account)}, ${holdOf(account)}) order by e.id desc limit ${limit}`
        return rows.map(entryOf)
      })
    },
    linkToken: async (hash, account) => {
      if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash))
        throw invalid('linkToken takes the `hash` from issueToken() (64 hex characters), never the token itself')
      checkText(account, 'account')
      return write(async (w) => {
        const inserted = await w.tx`insert into x402_credit_tokens (hash, account, created_at)
          values (${hash}, ${account}, ${clock()}::bigint) on conflict (hash) do nothing returning hash`
        if (inserted.length === 1) {
          w.changed = true
          return
        }
        const [linked] = await w.tx<{ account: string }[]>`select account from x402_credit_tokens where hash = ${hash}`
        if (linked?.account !== account)
          throw invalid('this token is already linked to another account: issue a new token with issueToken()')
      })
    },
    revokeToken: async (token) => {
      if (typeof token !== 'string' || !token.startsWith(tokenPrefix)) return false
      return write(async (w) => {
        const deleted = await w.tx`delete from x402_credit_tokens where hash = ${hashToken(token)} returning hash`
        // Another instance forgets the token it cached (creditService) at the notification.
        if (deleted.length === 1) {
          w.changed = true
          w.tokens = true
        }
        return deleted.length === 1
      })
    },
    revokeTokensOf: async (account) => {
      checkText(account, 'account')
      return write(async (w) => {
        const deleted = await w.tx`delete from x402_credit_tokens where account = ${account} returning hash`
        if (deleted.length > 0) {
          w.changed = true
          w.tokens = true
        }
        return deleted.length
      })
    },
    accountForToken: async (token) => {
      if (typeof token !== 'string' || !token.startsWith(tokenPrefix)) return undefined
      return call(async () => {
        const [row] = await sql<
          { account: string }[]
        >`select account from x402_credit_tokens where hash = ${hashToken(token)}`
        return row?.account
      })
    },
  }
}
