import type { CreditStore } from '../stores/types.js'
import { checkText, invalid } from './creditRows.js'
import type { RevenueQuery } from './types.js'

/** One caller's credit account as `CreditStore.accounts` lists it. */
export type CreditAccountInfo = {
  /** The account id (`acct_…`, a payer address, or a key's account). */
  account: string
  /** Spendable now, atomic units. */
  available: bigint
  /** Held by open reservations, atomic units. */
  reserved: bigint
  /** The last movement's time (ms epoch). */
  updatedAt: number
}

/** The operator's adjustment of a caller's credit (`CreditStore.adjust`). */
export type CreditAdjustment = {
  account: string
  /** Atomic units, signed: `> 0` adds credit, `< 0` takes it back. Never 0. */
  amount: bigint
  /** Idempotency: the same ref, account and amount again moves nothing. */
  ref: string
  /** Why: recorded as the ledger transaction's note, shown in the statement. */
  reason: string
}

/** The account-listing page size bounds. */
export const maxAccountsPage = 1000

/** Checks an adjustment's fields before any store writes it. */
export function checkAdjustment(input: CreditAdjustment): void {
  checkText(input.account, 'account')
  checkText(input.ref, 'ref')
  checkText(input.reason, 'reason')
  if (typeof input.amount !== 'bigint' || input.amount === 0n)
    throw invalid(`amount must be a non-zero bigint of atomic units (signed), got ${String(input.amount)}`)
  if (input.amount > (1n << 63n) - 1n || input.amount < -((1n << 63n) - 1n))
    throw invalid(`amount must stay within 2^63 atomic units, got ${input.amount}`)
}

/** The refusal of a negative adjustment larger than the available credit. */
export const overdrawn = (input: CreditAdjustment, available: bigint) =>
  invalid(
    `insufficient credit: cannot take ${-input.amount} from \`${input.account}\`, whose available credit is ${available} (reserved credit is not taken): adjust by at most -${available}`,
    { reason: 'insufficient_credit', available: String(available), amount: String(input.amount) },
  )

/** The refusal of a ref used before for another adjustment. */
export const reusedRef = (ref: string, existing: { account: string; amount: string }) =>
  invalid(
    `ref \`${ref}\` was already used for an adjustment of ${existing.amount} to \`${existing.account}\`: pass a new ref for a different adjustment`,
    { ref },
  )

/**
 * Checks `revenue()` options (`from` < `to`, ms epochs; `limit` 1…1000, default 500) and gives
 * them with defaults, `after` as (createdAt, id) to compare entries past.
 */
export function checkRevenueQuery(query: RevenueQuery): {
  from: number
  to: number
  after: { createdAt: number; id: number }
  limit: number
} {
  const { from, to } = query
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to <= from)
    throw invalid(`revenue(): from and to must be ms epochs with from < to, got ${from} and ${to}`)
  const limit = query.limit ?? 500
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxAccountsPage)
    throw invalid(`revenue(): limit is ${limit}: give a whole number from 1 to ${maxAccountsPage}`)
  const after = query.after ?? { createdAt: from - 1, id: 0 }
  if (!Number.isSafeInteger(after.createdAt) || !Number.isSafeInteger(after.id))
    throw invalid('revenue(): after must be the last entry of the page before ({ createdAt, id })')
  return { from, to, after, limit }
}

/** Checks `accounts()` options: `limit` 1…1000 (default 100), `after` an account id. */
export function checkAccountsPage(options: Parameters<CreditStore['accounts']>[0] = {}): {
  limit: number
  after: string
} {
  const limit = options.limit ?? 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxAccountsPage)
    throw invalid(`limit is ${limit}: give a whole number from 1 to ${maxAccountsPage}`)
  return { limit, after: options.after ?? '' }
}
