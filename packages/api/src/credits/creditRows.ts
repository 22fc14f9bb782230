import { X402Error } from '@402x/core'
import type { CreditAccount, CreditEntry, CreditKind, RevenueEntry } from './types.js'

// The credit ledger's rows as SQLite returns them, and the checks every movement's input
// passes before it is written (createCreditLedger.ts).

/** SQLite's INTEGER range: amounts and balances stay below it. */
export const maxAmount = (1n << 63n) - 1n
/** How many reservations one `expireReservations` transaction releases, so it never holds the write lock long. */
export const expiryBatch = 500

export type TabRow = { account: CreditAccount; used: string; charges: number }
export type TxRow = { id: number; account: string; amount: string }
export type ReservationRow = { id: string; account: string; amount: string; state: string; expires_at: number }
export type EntryRow = {
  id: number
  transaction_id: number
  account: CreditAccount
  amount: string
  kind: CreditKind
  ref: string
  note: string | null
  created_at: number
}

/**
 * Writes one ledger transaction of the SQLite credit ledger (createCreditLedger.ts): each
 * posting is `[account, amount, alreadyApplied?]`; returns the transaction's id.
 */
export type SqlitePost = (
  kind: CreditKind,
  ref: string,
  account: string,
  amount: bigint,
  note: string | null,
  postings: [CreditAccount, bigint, 'applied'?][],
) => number

export const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new X402Error('invalid_request', { message, details })
export const storeFault = (cause: unknown) =>
  new X402Error('store_unavailable', { message: `the credit ledger failed: ${(cause as Error).message}`, cause })

export const callerOf = (account: string): CreditAccount => `caller:${account}`
export const holdOf = (account: string): CreditAccount => `hold:${account}`

export function checkAmount(amount: unknown, what: string, min: 0n | 1n): asserts amount is bigint {
  if (typeof amount !== 'bigint')
    throw invalid(`${what} must be a bigint of atomic units (1 USDC = 1_000_000n), got ${typeof amount}`)
  if (amount < min || amount > maxAmount)
    throw invalid(`${what} must be ${min === 1n ? 'positive' : 'zero or more'} and below 2^63, got ${amount}`)
}

export function checkText(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`)
}

/** An entry as the ledger lists it. */
export const entryOf = (row: EntryRow): CreditEntry => ({
  id: row.id,
  transactionId: row.transaction_id,
  account: row.account,
  amount: BigInt(row.amount),
  kind: row.kind,
  ref: row.ref,
  ...(row.note ? { note: row.note } : {}),
  createdAt: row.created_at,
})

/** A revenue entry's row, as both SQL stores read it (`CreditStore.revenue`). */
export type RevenueRow = {
  id: number | bigint
  transaction_id: number | bigint
  account: string
  amount: string
  kind: CreditKind
  ref: string
  note: string | null
  created_at: number | bigint
}

/** The revenue entry of a row (a note only when there is one). */
export const revenueEntryOf = (r: RevenueRow): RevenueEntry => ({
  id: Number(r.id),
  transactionId: Number(r.transaction_id),
  account: r.account,
  kind: r.kind,
  amount: BigInt(r.amount),
  ref: r.ref,
  ...(r.note ? { note: r.note } : {}),
  createdAt: Number(r.created_at),
})
