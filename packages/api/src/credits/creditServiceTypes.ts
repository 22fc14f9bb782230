import type { CreditStore } from '../stores/types.js'
import type { StoreEvent } from '../webhooks/types.js'
import type { CreditBalance, CreditEntry } from './types.js'

// The credit service's types (createCreditService in creditService.ts).

/** A movement's outcome: the balance after, and whether its `ref` had moved money before. */
export type Moved = { balance: bigint; replayed: boolean }

/** Credit held in this process for one request with a price known before it runs. */
export type Hold = { account: string; amount: bigint; done: boolean }

/**
 * The paywall's credit accounts: the durable ledger, with the hot path kept in process
 * (docs/architecture.md, "Where state lives"). A request with a known price holds its
 * amount in memory (no I/O), and its charge is written with the other charges of the same
 * moment in one SQLite transaction, before the response goes out. Metered requests, which
 * run long, reserve in the ledger itself, so that a crash leaves a reservation that expires.
 *
 * Several processes may share a credit file: each sees what the others wrote within a
 * millisecond, and the ledger refuses any charge it cannot cover, but a process does not
 * see the others' holds in flight: the store refuses a charge another process already spent.
 */
export type CreditService = {
  /** The durable side: the credit store. */
  ledger(): CreditStore
  /** The account of a bearer token, or `undefined` for an unknown token. */
  accountFor(token: string): Promise<string | undefined>
  /** Opens an account and returns it with its first token (only the token's hash is kept). */
  open(): Promise<{ account: string; token: string }>
  available(account: string): Promise<bigint>
  /** Holds `amount` in memory, or says how much is available. */
  hold(account: string, amount: bigint): Promise<Hold | { ok: false; available: bigint }>
  /** {@link hold} without waiting, for a known token and account; `undefined`: use `accountFor` and `hold`. */
  holdNow(token: string, amount: bigint): Hold | { ok: false; available: bigint } | undefined
  /** Charges `amount` (≤ the hold) durably and frees the rest; resolves with the balance left. */
  charge(hold: Hold, amount: bigint): Promise<bigint>
  /**
   * {@link charge} for the hot path, without a promise: `done(context, error, balance)` once
   * the charge is written with the others of this turn of the event loop, or refused.
   */
  chargeThen<T>(hold: Hold, amount: bigint, context: T, done: Charged<T>): void
  /** Frees a hold, charging nothing. */
  drop(hold: Hold): void
  /** A durable reservation (metered requests). */
  reserve(
    account: string,
    amount: bigint,
    ttlMs: number,
    ref?: string,
  ): Promise<{ ok: true; reservationId: string } | { ok: false; available: bigint }>
  /**
   * Captures `amount` of a reservation and releases the rest; resolves with the balance left.
   * `events` (webhooks) are written in the same transaction, as for every movement here.
   */
  capture(account: string, reservationId: string, amount: bigint, events?: readonly StoreEvent[]): Promise<bigint>
  release(account: string, reservationId: string, reason: string, events?: readonly StoreEvent[]): Promise<bigint>
  /** Keeps a running request's reservation from expiring. */
  extend(reservationId: string, ttlMs: number): Promise<boolean>
  /** Gives charged credit back (a response that never reached the caller), idempotent by `ref`. */
  refund(account: string, amount: bigint, ref: string, reason: string): Promise<bigint>
  /** Revokes a token, here and (within a millisecond) in every process on the file. */
  revoke(token: string): Promise<boolean>
  /**
   * Revokes every token of an account, here and (within a millisecond) in every process on
   * the file; how many there were. The credit stays with the account.
   */
  revokeTokensOf(account: string): Promise<number>
  /** A new token for an account (the payer proved it paid into it). */
  issue(account: string): Promise<string>
  /** The account a payment's credit went to, by the payment id. */
  accountOfPayment(paymentId: string): Promise<string | undefined>
  /** Credits a payment, once per `ref`; `replayed` when that `ref` was credited before. */
  topUp(account: string, amount: bigint, ref: string, events?: readonly StoreEvent[]): Promise<Moved>
  /** Operator credit, idempotent by `ref`. */
  grant(account: string, amount: bigint, ref: string, note?: string): Promise<bigint>
  /** The operator's signed correction (`CreditStore.adjust`); the available credit after. */
  adjust(account: string, amount: bigint, ref: string, reason: string): Promise<{ balance: bigint; replayed: boolean }>
  /** The grant made with this `ref`, if any. */
  grantOf(ref: string): Promise<{ account: string; amount: bigint } | undefined>
  /**
   * Sends unused credit out (an on-chain refund): moves it off the caller's balance, once
   * per `ref`; `replayed` when that `ref` was paid out before (send nothing again then).
   */
  payout(account: string, amount: bigint, ref: string, events?: readonly StoreEvent[]): Promise<Moved>
  balance(account: string): Promise<CreditBalance>
  entries(account: string, limit: number): Promise<CreditEntry[]>
  /** Crash recovery: posts every tab on the file, and releases expired reservations. */
  expire(): Promise<number>
  close(): Promise<void>
}

/** Called once a charge is written (`error` undefined, with the balance left) or refused. */
export type Charged<T> = (context: T, error: unknown, balance: bigint) => void
