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

/**
 * A movement of the revenue credit earned (`system:revenue`), as `CreditStore.revenue` pages
 * it: a `capture` or a `charge` (credit spent by requests, `amount > 0`), or a `refund` of it
 * (`amount < 0`).
 */
export type RevenueEntry = {
  /** The `system:revenue` entry's id: stable, unique in the store. */
  id: number
  transactionId: number
  /** The caller whose credit it was (`acct_…`, a payer address, a key's account). */
  account: string
  kind: CreditKind
  /** Atomic units, signed: what it added to the revenue. */
  amount: bigint
  /** The reservation id (capture), `tab_…` (charge) or the refund's `ref`. */
  ref: string
  /** The transaction's note: how many charges a `charge` covers, a refund's reason. */
  note?: string
  createdAt: number
}

/** What `CreditStore.revenue` reads: one page of the revenue entries made in [from, to). */
export type RevenueQuery = {
  /** ms epoch, inclusive. */
  from: number
  /** ms epoch, exclusive. */
  to: number
  /** The last entry of the page before (its `createdAt` and `id`): this page starts after it. */
  after?: { createdAt: number; id: number } | undefined
  /** Entries per page, 1 to 1000. @default 500 */
  limit?: number
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
