/**
 * A payment's state only moves forward:
 * `verified → settling → settled | failed | pending → reconciled`, and
 * `verified → settled | pending` when the settlement began soon after the row was written
 * (the `settling` write is skipped: see `settleAndServe`), and
 * `verified → released` when the handler failed and nothing was charged.
 * `rejected` records a refused attempt.
 */
export type PaymentState =
  | 'rejected'
  | 'verified'
  | 'released'
  | 'settling'
  | 'settled'
  | 'failed'
  | 'pending'
  | 'reconciled'

/** The states a payment may move to from each state. */
export const transitions: Record<PaymentState, readonly PaymentState[]> = {
  rejected: [],
  verified: ['settling', 'settled', 'pending', 'released', 'failed'],
  settling: ['settled', 'failed', 'pending'],
  pending: ['reconciled', 'failed'],
  settled: [],
  failed: [],
  released: [],
  reconciled: [],
}

export type PaymentRecord = {
  id: string
  state: PaymentState
  createdAt: number
  updatedAt: number
  network: string
  asset: string
  payTo: string
  payer: string
  nonce: string
  /** Atomic units, as a decimal string. */
  amount: string
  validBefore: number
  method: string
  resource: string
  transaction?: string
  reason?: string
  message?: string
  /**
   * The payment was settled (or sent) but its response never reached the caller (the
   * connection closed first): the same payment is served once more, with no new charge.
   */
  undelivered?: boolean
  /** The payment payload and requirements, as JSON, for reconciliation. */
  payload: string
  requirements: string
}

export type NewPayment = Omit<PaymentRecord, 'createdAt' | 'updatedAt' | 'undelivered'>

export type PaymentUpdate = Partial<Pick<PaymentRecord, 'transaction' | 'reason' | 'message'>> & {
  /** Flag the payment undelivered in the same write as the move (the reconciler's). */
  undelivered?: true
}

/** The ledger of record for payments. */
export type Ledger = {
  /**
   * Records a payment. Returns `false` when a live payment with the same (network, asset,
   * payer, nonce) is already recorded: the store's own replay guard.
   */
  insert(payment: NewPayment): Promise<boolean>
  /** Moves a payment forward; refuses (returns `false`) any move not in `transitions`. */
  transition(id: string, to: PaymentState, update?: PaymentUpdate): Promise<boolean>
  get(id: string): Promise<PaymentRecord | undefined>
  /** The live payment for an authorization, if any. */
  findByNonce(network: string, asset: string, payer: string, nonce: string): Promise<PaymentRecord | undefined>
  /** Payments in `states` last updated before `olderThan` (ms epoch). */
  listByState(states: readonly PaymentState[], olderThan?: number): Promise<PaymentRecord[]>
  /**
   * Flags a paid response as not delivered (`true`), or claims one for serving again
   * (`false`). Returns `false` when the flag was already so: only one claim wins.
   */
  setUndelivered(id: string, undelivered: boolean): Promise<boolean>
  /**
   * How many payments a payer made (settled, pending or reconciled) since `since` (ms
   * epoch), and their sum in atomic units, per asset (lower-case address): volume pricing
   * reads it. Sums are exact `bigint`s, like every amount of money.
   */
  payerStats(payer: string, since: number): Promise<{ asset: string; count: number; amount: bigint }[]>
  /** Every payment, newest first. */
  list(options?: { limit?: number }): Promise<PaymentRecord[]>
  close(): Promise<void>
}
