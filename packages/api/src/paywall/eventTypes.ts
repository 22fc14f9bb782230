import type { CreditReceipt, SettleResponse } from '@402x/core'

// The paywall's events and what each carries (re-exported by types.ts).

/** One settled (or pending) payment, as the events report it. */
export type PaymentEvent = {
  id: string
  payer: string
  payTo: string
  /** Atomic units. */
  amount: bigint
  /** Dollars, e.g. "0.01". */
  price: string
  network: string
  asset: string
  transaction: string
  resource: string
  method: string
  state: 'settled' | 'pending'
}

/** What one credit-funded or metered request cost (the `X-402x-Receipt` header): one definition, in core. */
export type { CreditReceipt }

export type PaywallEvents = {
  verified: [{ id: string; payer: string; amount: bigint; resource: string }]
  /** A payment settled (or sent and pending): the same data as `onPayment`. */
  payment: [PaymentEvent]
  settled: [PaymentEvent]
  /** A paid response that never reached the caller; a retry with the same payment is served free. */
  undelivered: [{ id: string; payer: string; resource: string }]
  /** Money returned to a payer (credit or on chain). */
  refunded: [{ id: string; payer: string; amount: bigint; reason: string; transaction?: string }]
  released: [{ id: string; payer: string; reason: string }]
  /** A credit-funded or metered request finished: the same data as its `X-402x-Receipt`. */
  receipt: [CreditReceipt & { resource: string; account: string }]
  /** Credit bought with an x402 payment (`POST /__402x/credits`, or a metered payment's remainder). */
  toppedUp: [{ id: string; payer: string; account: string; amount: bigint }]
  failed: [{ id: string; payer: string; reason: string; settle?: SettleResponse }]
  rejected: [{ payer?: string; reason: string; message: string; resource: string }]
  /** One request the paywall matched has its answer: how it was funded, what it was charged. */
  request: [RequestEvent]
  error: [unknown]
}

/**
 * A `request` event: one per request a paywall matched (priced routes and 402x's public
 * endpoints; never the admin API, never a free route it hands on), when its answer is
 * decided: after the handler for a paid one. Built only while something listens.
 */
export type RequestEvent = {
  /** A fresh id: the handler's `req.x402.requestId` (`X-402x-Request-Id`). */
  requestId: string
  /** The caller's own `X-Request-Id`, when it is 1–128 of `[A-Za-z0-9._:-]`. */
  clientRequestId?: string
  /** When the request arrived, ms since the epoch. */
  at: number
  /** Until its answer was decided (after the handler, for a paid one), in ms. */
  durationMs: number
  method: string
  /** The route as configured (`'GET /api/weather/:city'`), else the path. */
  route: string
  path: string
  /** The status sent. */
  status: number
  /**
   * How it was funded: an x402 payment, credit, an API key, nothing (free tier, price 0,
   * 402x's own endpoints); or refused (4xx: 402, 429, 401 …) or failed (5xx).
   */
  outcome: 'paid' | 'credit' | 'key' | 'free' | 'refused' | 'error'
  /** Refused or failed: the reason code (`payment_required`, `rate_limited` …). */
  reason?: string
  /** Atomic units charged for it (`0n` when nothing was). */
  amount: bigint
  /** Its price in dollars, as charged (the maximum, on a metered route). */
  price?: string
  network: string
  asset: string
  /**
   * The x402 payment's id (the ledger row, `paymentId` in the payment's own log lines and
   * events): what ties the request to its settlement.
   */
  paymentId?: string
  /** An x402 payment's payer. */
  payer?: string
  /** The credit account that paid. */
  account?: string
  /** The API key's id and plan. */
  keyId?: string
  plan?: string
  /** The caller's address, as the adapter saw it. */
  ip?: string
}
