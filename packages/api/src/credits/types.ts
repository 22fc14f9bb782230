/**
 * Accounts of the credit ledger. A caller (by the id the API gives it) owns two:
 * `caller:<id>` (available credit) and `hold:<id>` (credit reserved for requests in flight).
 * System accounts are the other side of every movement, so that each transaction sums to
 * zero: `system:topups` (paid in over x402), `system:grants` (given by the operator),
 * `system:revenue` (captured) and `system:payouts` (unused credit sent back on chain).
 * System balances are negative or positive; caller and hold balances are never negative.
 */
export type CreditAccount =
  | `caller:${string}`
  | `hold:${string}`
  | 'system:topups'
  | 'system:grants'
  | 'system:revenue'
  | 'system:payouts'

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

/** The prepaid credit ledger: double-entry, append-only, idempotent by `ref`. */
export type CreditLedger = {
  /**
   * Credits money paid in over x402 (`system:topups → caller`). `ref` is the payment id: a
   * retry with the same `ref`, account and amount moves nothing and returns `replayed: true`.
   */
  topUp(input: { account: string; amount: bigint; ref: string }): Promise<Posted>
  /** Credits operator credit (`system:grants → caller`), idempotent by `ref`. */
  grant(input: { account: string; amount: bigint; ref: string; note?: string }): Promise<Posted>
  /**
   * Holds `amount` of the caller's available credit (`caller → hold`) for `ttlMs`, or
   * answers `insufficient_credit` without moving anything. With `ref`, a retry returns the
   * same reservation.
   */
  reserve(input: { account: string; amount: bigint; ttlMs: number; ref?: string }): Promise<ReserveResult>
  /**
   * Charges `amount` (0 ≤ amount ≤ reserved) of a held reservation (`hold → system:revenue`)
   * and releases the rest (`hold → caller`), in one transaction. A reservation is captured,
   * released or expired once only: one that expiry released cannot be captured.
   */
  capture(input: { reservationId: string; amount: bigint }): Promise<CaptureResult>
  /**
   * Pushes a held reservation's expiry to `ttlMs` from now (a request still running keeps
   * it); `false` when it is no longer held.
   */
  extend(input: { reservationId: string; ttlMs: number }): Promise<boolean>
  /** Releases a whole live reservation (`hold → caller`). */
  release(input: { reservationId: string; reason: string }): Promise<{ released: bigint }>
  /**
   * Charges each caller `amount` of its available credit, in one transaction: the hot path's
   * group commit, written before the answers go out. The charges go on the caller's tab
   * (one small row per caller, added to), which lowers its available credit at once and is
   * posted later as one `charge` transaction (`caller → system:revenue`) by
   * {@link CreditLedger.postTabs}. A charge its caller cannot cover is `false` and moves nothing.
   */
  tab(items: { account: string; amount: bigint }[]): Promise<boolean[]>
  /**
   * Posts the tabs (every caller's, or one caller's) as `charge` transactions, one per caller,
   * its note the number of charges. Any connection may post any tab (after a crash too);
   * posting is idempotent in effect: a posted tab is emptied in the same transaction.
   * Returns the amount posted.
   */
  postTabs(account?: string): Promise<bigint>
  /** Gives back charged credit (`system:revenue → caller`), idempotent by `ref`. */
  refund(input: { account: string; amount: bigint; ref: string; reason: string }): Promise<Posted>
  /**
   * Takes `amount` out of the caller's available credit (`caller → system:payouts`), to send
   * it back on chain. Refuses with `invalid_request` (`details.reason: 'insufficient_credit'`)
   * and moves nothing when the available balance does not cover it; reserved credit is never
   * paid out. Idempotent by `ref` like `topUp`: a retry with the same `ref`, account and
   * amount moves nothing and returns `replayed: true`, even once the balance is spent.
   *
   * @example
   * await credits.payout({ account: '0xabc…', amount: 250_000n, ref: payoutId })
   */
  payout(input: { account: string; amount: bigint; ref: string; note?: string }): Promise<Posted>
  /**
   * Releases every reservation whose expiry is at or before `now` (ms epoch): the recovery
   * for a crash between reserve and capture. Returns how many it released.
   */
  expireReservations(now?: number): Promise<number>
  balance(account: string): Promise<CreditBalance>
  /** The account a top-up with this `ref` credited, if any. */
  topUpAccount(ref: string): Promise<string | undefined>
  /** The grant made with this `ref`, if any: its account and amount. */
  grantOf(ref: string): Promise<{ account: string; amount: bigint } | undefined>
  /**
   * A number that changes when another connection commits to the file (SQLite's
   * `data_version`): the hot path reads balances afresh only then.
   */
  dataVersion?(): number
  /**
   * The entries of a caller's two accounts (`caller:` and `hold:`), newest first; its tab is
   * posted first, so that the statement is complete.
   */
  entries(account: string, options?: { limit?: number }): Promise<CreditEntry[]>
  /** Links a token's sha256 (from `issueToken`) to a caller. Only the hash is stored. */
  linkToken(hash: string, account: string): Promise<void>
  /** Unlinks a token (its hash): it opens nothing any more. `false` when it was not linked. */
  revokeToken(token: string): Promise<boolean>
  /** The caller a presented token was linked to, if any. */
  accountForToken(token: string): Promise<string | undefined>
  close(): Promise<void>
}
