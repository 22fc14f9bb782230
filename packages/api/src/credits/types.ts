import type { CreditStore } from '../stores/types.js'
import type { StoreEvent } from '../webhooks/types.js'

/**
 * Accounts of the credit ledger. A caller (by the id the API gives it) owns two:
 * `caller:<id>` (available credit) and `hold:<id>` (credit reserved for requests in flight).
 * System accounts are the other side of every movement, so that each transaction sums to
 * zero: `system:topups` (paid in over x402), `system:grants` (given by the operator),
 * `system:revenue` (captured), `system:payouts` (unused credit sent back on chain) and
 * `system:adjustments` (the operator's corrections, `adjust`).
 * System balances are negative or positive; caller and hold balances are never negative.
 */
export type CreditAccount =
  | `caller:${string}`
  | `hold:${string}`
  | 'system:topups'
  | 'system:grants'
  | 'system:revenue'
  | 'system:payouts'
  | 'system:adjustments'

/** What a ledger transaction did. */
export type CreditKind =
  | 'top_up'
  | 'grant'
  | 'reserve'
  | 'capture'
  | 'release'
  | 'expire'
  | 'refund'
  | 'payout'
  | 'charge'
  | 'adjust'

/** One posting: `amount` (atomic units, never 0) moved into (`> 0`) or out of (`< 0`) `account`. */
export type CreditEntry = {
  id: number
  /** The transaction the entry belongs to; its entries sum to zero. */
  transactionId: number
  account: CreditAccount
  amount: bigint
  kind: CreditKind
  /** The top-up, grant, refund or payout `ref`, or the reservation id. */
  ref: string
  /** The transaction's note: a grant's note, a refund's reason, or how many charges a `charge` covers. */
  note?: string
  createdAt: number
}

/** A caller's credit, in atomic units (USDC: 6 decimals). */
export type CreditBalance = {
  /** Spendable now. */
  available: bigint
  /** Held by open reservations. */
  reserved: bigint
}

/**
 * The input of a movement made once per `ref` (top-up, grant, refund, payout), with the
 * webhook events written in its transaction (none when it is a replay).
 */
export type RefInput = {
  account: string
  amount: bigint
  ref: string
  note?: string
  reason?: string
  events?: readonly StoreEvent[]
}

/** The result of a credit (top-up, grant, refund) or a payout. */
export type Posted = {
  transactionId: number
  /** `true` when `ref` was already posted with the same account and amount: nothing moved. */
  replayed: boolean
}

export type ReserveResult =
  | { ok: true; reservationId: string; expiresAt: number }
  | { ok: false; reason: 'insufficient_credit'; available: bigint }

export type CaptureResult = {
  /** Moved to `system:revenue`. */
  captured: bigint
  /** Moved back to the caller. */
  released: bigint
}

/**
 * The SQLite credit ledger: the `CreditStore` (`stores/types.ts`), and SQLite's own change
 * counter, of which {@link CreditStore.version} is the neutral form.
 */
export type CreditLedger = CreditStore & {
  /** SQLite's `PRAGMA data_version`: changes when another connection commits to the file. */
  dataVersion(): number
}
