import type { PaymentLedger } from '../stores/types.js'

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

/** The ledger of record for payments: the `PaymentLedger` store (`stores/types.ts`). */
export type Ledger = PaymentLedger
