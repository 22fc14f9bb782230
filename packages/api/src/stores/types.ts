import type { CreditAccountInfo, CreditAdjustment } from '../credits/creditAdmin.js'
import type {
  CaptureResult,
  CreditBalance,
  CreditEntry,
  Posted,
  ReserveResult,
  RevenueEntry,
  RevenueQuery,
} from '../credits/types.js'
import type { PaymentPage, PaymentQuery } from '../ledger/paymentQuery.js'
import type { NewPayment, PaymentRecord, PaymentState, PaymentUpdate } from '../ledger/types.js'
import type { RateLimitStore } from '../ratelimit/types.js'
import type { StoreEvent, StoreEvents, WebhookOutbox } from '../webhooks/types.js'
import type { Backends } from './pickBackends.js'

// The stores behind every piece of state the paywall keeps (docs/architecture.md, "Stores").
// Each is asynchronous wherever a networked backend (PostgreSQL, Redis) makes a round trip,
// and each contract below is what the paywall relies on: `*.contract.ts` beside this file
// tests it against every implementation. Common to all of them:
// - read-your-writes: once a call's promise resolves, every later call on any store object
//   sharing the backend sees its effect (no eventual consistency);
// - every amount of money is a `bigint` of atomic units, stored and returned exactly;
// - a rejected promise means the store could not answer (`store_unavailable`, 503): the
//   paywall fails closed, never serves for free.

/**
 * The ledger of record for payments.
 *
 * Contract:
 * - `insert` is the store's own replay guard: of any number of concurrent inserts of a live
 *   payment with the same (network, asset, payer, nonce), exactly one returns `true`;
 * - `transition` refuses (`false`) any move not in `transitions`, and of concurrent moves
 *   from the same state at most one wins;
 * - `setUndelivered` is a compare-and-set: of concurrent claims exactly one wins;
 * - `claimStale` leases each stale payment to one owner at a time (two reconcilers never
 *   work on the same payment at once), until its lease runs out;
 * - amounts (`PaymentRecord.amount`, `payerStats` sums) are exact, however large.
 *
 * Implementations: SQLite (`createSqliteLedger`, group commit inside), memory
 * (`createMemoryPaymentLedger`), PostgreSQL (`createPostgresLedger`).
 */
export type PaymentLedger = {
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
   * The recovery lease: the payments in `states` last updated before `olderThan` (ms epoch)
   * that no other owner holds a live lease on, each now leased to `owner` for `leaseMs`
   * (at most `limit` of them, oldest first). Of concurrent claims by different owners (any
   * process sharing the store), no payment goes to two of them while a lease runs; a lease
   * that ran out (its holder died) is claimable again, and one `owner` already holds is
   * renewed (its next run picks up what its last left unfinished). A lease never blocks a
   * `transition`, and a claim changes neither a payment's state nor its `updatedAt`.
   *
   * @example
   * const mine = await ledger.claimStale(['verified', 'settling', 'pending'], Date.now() - 5_000, ownerId, 60_000)
   */
  claimStale(
    states: readonly PaymentState[],
    olderThan: number,
    owner: string,
    leaseMs: number,
    limit?: number,
  ): Promise<PaymentRecord[]>
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
  /**
   * A filtered page of payments (payer, states, resource, time range), newest or oldest
   * first, paged by an opaque cursor on the insertion order: a page starts after a fixed
   * position, so payments recorded between two reads never shift or repeat a page. A
   * cursor this store did not give is an `invalid_request`.
   *
   * @example
   * const { payments, next } = await ledger.query({ state: ['settled'], from: Date.UTC(2026, 0, 1), limit: 50 })
   */
  query(query: PaymentQuery): Promise<PaymentPage>
  /**
   * The webhook outbox in the same database (docs/webhooks.md): a move it reports writes
   * its event in the move's own transaction. A ledger without one takes no webhooks.
   */
  outbox?: WebhookOutbox
  close(): Promise<void>
}

/**
 * Prepaid credit accounts: double-entry, append-only, idempotent by `ref`. What the credit
 * service (`creditService`, the in-process hot balances) needs from its durable side.
 *
 * Contract:
 * - read-your-writes: a `balance` after any resolved movement shows it;
 * - no caller balance ever goes negative: a charge, reservation or payout it cannot cover
 *   is refused whole, also under concurrency and across processes sharing the store;
 * - every movement with a `ref` moves money once: a retry is `replayed: true`;
 * - a reservation is captured, released or expired once only;
 * - {@link CreditStore.version} changes once another writer has committed (the neutral
 *   change signal that replaces SQLite's `data_version` here);
 * - the `events` given to a movement (`topUp`, `capture`, `release`, `payout`) are written
 *   in its own transaction, or not at all: a movement refused, failed or replayed writes
 *   none (`webhookEvents` hands them to the webhook worker).
 *
 * `tab` and `postTabs` are the hot path's batch: `tab` charges many callers in one write;
 * a store may post those charges later as `charge` entries (SQLite keeps a per-caller tab
 * row) or at once (then `postTabs` has nothing left to post and returns `0n`).
 *
 * Implementations: SQLite (`createCreditLedger`: the tab, `data_version`), memory
 * (`createMemoryCreditStore`, tab posted at once), PostgreSQL (`createPostgresCreditStore`:
 * row locks, tab posted at once, `LISTEN`). A Redis hot side next.
 */
export type CreditStore = {
  /**
   * Credits money paid in over x402 (`system:topups → caller`). `ref` is the payment id: a
   * retry with the same `ref`, account and amount moves nothing and returns `replayed: true`.
   */
  topUp(input: { account: string; amount: bigint; ref: string; events?: readonly StoreEvent[] }): Promise<Posted>
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
  capture(input: { reservationId: string; amount: bigint; events?: readonly StoreEvent[] }): Promise<CaptureResult>
  /**
   * Pushes a held reservation's expiry to `ttlMs` from now (a request still running keeps
   * it); `false` when it is no longer held.
   */
  extend(input: { reservationId: string; ttlMs: number }): Promise<boolean>
  /** Releases a whole live reservation (`hold → caller`). */
  release(input: { reservationId: string; reason: string; events?: readonly StoreEvent[] }): Promise<{
    released: bigint
  }>
  /**
   * Charges each caller `amount` of its available credit, in one transaction: the hot path's
   * group commit, written before the answers go out. The charges go on the caller's tab
   * (one small row per caller, added to), which lowers its available credit at once and is
   * posted later as one `charge` transaction (`caller → system:revenue`) by
   * {@link CreditStore.postTabs}. A charge its caller cannot cover is `false` and moves nothing.
   */
  tab(items: { account: string; amount: bigint }[]): Promise<boolean[]>
  /**
   * How long (ms) the group commit may wait for a batch to fill before `tab`
   * (stores/groupCommit.ts `fillMs`): a networked store, whose every `tab` is a round trip,
   * says so here. @default 0
   */
  readonly tabFillMs?: number
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
  payout(input: {
    account: string
    amount: bigint
    ref: string
    note?: string
    events?: readonly StoreEvent[]
  }): Promise<Posted>
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
   * The neutral "something changed" signal: a number that changes whenever a writer other
   * than this store object (another process, another connection) has committed since it was
   * last read. Synchronous and cheap (the hot path reads it at most once a millisecond): a
   * networked store keeps it locally, from its backend's notifications (a Redis counter or
   * pub/sub, PostgreSQL `LISTEN`), and then the change shows once the notification has come
   * (milliseconds after the commit), not as the writer's promise resolves; while it cannot
   * listen, every read is a change. The SQLite store gives its `data_version`; a store that
   * nothing else writes gives a constant. When it changes, a reader forgets what it cached.
   */
  version(): number
  /**
   * What changed since the last call, when the store can say (PostgreSQL: the notifications
   * name the accounts they moved): the accounts whose balances a reader must read again, or
   * `'all'`; and whether a token was revoked. Without it, a reader forgets everything at
   * each change of {@link CreditStore.version}. Read it after `version()`: what arrives in
   * between is named here and moves the version again.
   */
  changes?(): { accounts: string[] | 'all'; tokens: boolean }
  /**
   * The entries of a caller's two accounts (`caller:` and `hold:`), newest first; its tab is
   * posted first, so that the statement is complete.
   */
  entries(account: string, options?: { limit?: number }): Promise<CreditEntry[]>
  /**
   * The caller accounts, in account-id order, with their balances and last movement's time:
   * at most `limit` (default 100) after the account `after` (the last one of the page before).
   *
   * @example
   * const page = await credits.accounts({ limit: 50 })
   * const next = await credits.accounts({ limit: 50, after: page.at(-1)?.account })
   */
  accounts(options?: { limit?: number; after?: string }): Promise<CreditAccountInfo[]>
  /**
   * The operator's correction of a caller's available credit, against `system:adjustments`,
   * with its `reason` as the transaction's note (kind `adjust`): a positive amount adds, a
   * negative one takes back, and only what is available (never below zero; reserved credit
   * is not taken: `invalid_request` with `details.reason: 'insufficient_credit'`).
   * Idempotent by `ref` like `grant`.
   *
   * @example
   * await credits.adjust({ account: 'acct_…', amount: -250_000n, ref: 'ticket-812', reason: 'double top-up refunded by card' })
   */
  adjust(input: CreditAdjustment): Promise<Posted>
  /**
   * One page of the revenue entries (`system:revenue`: captures and charges, less refunds)
   * made in [from, to), oldest first (by `createdAt`, then `id`), each with the caller it came
   * from: the export reads a period page by page, each after the last entry of the one
   * before. Charges still on a tab are not entries yet: `postTabs()` first for every one.
   *
   * @example
   * await credits.postTabs()
   * let page = await credits.revenue({ from, to, limit: 500 })
   * while (page.length === 500) page = await credits.revenue({ from, to, limit: 500, after: page.at(-1) })
   */
  revenue(query: RevenueQuery): Promise<RevenueEntry[]>
  /**
   * The webhook events written with this store's movements, for the worker to move into the
   * ledger's outbox. A store without it cannot carry events: webhooks for `credit.topped_up`
   * and `payment.refunded` are refused at start-up on it.
   */
  webhookEvents?: StoreEvents
  /** Links a token's sha256 (from `issueToken`) to a caller. Only the hash is stored. */
  linkToken(hash: string, account: string): Promise<void>
  /** Unlinks a token (its hash): it opens nothing any more. `false` when it was not linked. */
  revokeToken(token: string): Promise<boolean>
  /**
   * Unlinks every token of `account` (a revoked API key's own account, `key:<id>`): none of
   * them opens anything any more. How many were linked; `0` for none.
   */
  revokeTokensOf(account: string): Promise<number>
  /** The caller a presented token was linked to, if any. */
  accountForToken(token: string): Promise<string | undefined>
  close(): Promise<void>
}

/**
 * Sign-in proofs (SIWX nonces) already used, each kept until it expires.
 *
 * Contract: of every `spend` of the same key before `expiresAt`, across every process
 * sharing the store and under any concurrency, exactly one resolves `true`.
 *
 * Implementations: memory (`createMemorySpentProofs`, one process), Redis
 * (`createRedisSpentProofs`, `SET NX PX`), PostgreSQL (`createPostgresSpentProofs`).
 */
export type SpentProofs = {
  /** `true` the first time `key` is spent, `false` after, until `expiresAt` (ms epoch). */
  spend(key: string, expiresAt: number): Promise<boolean>
}

/** The result of {@link Counters.take}. */
export type Taken = {
  /** Whether `cost` fitted in the window's allowance (and was taken). */
  ok: boolean
  /** What is left of the allowance after this take. */
  remaining: number
  /** When the key's window ends (ms epoch). */
  resetAt: number
}

/**
 * Counters in fixed windows, per key: the free tier's, and next the rate limits'.
 *
 * Contract: `take` is atomic per key: of concurrent takes on a key (every process sharing
 * the store), the ones that succeed never add up to more than `limit` in one window, and a
 * refused take counts nothing. A window starts at a key's first take and lasts `windowMs`.
 *
 * Implementations: memory (`createMemoryCounters`), Redis (`createRedisCounters`, one Lua
 * script per take, windows on Redis's clock), PostgreSQL (`createPostgresCounters`).
 */
export type Counters = {
  /** Takes `cost` of `key`'s `limit` in its current window of `windowMs`. */
  take(key: string, cost: number, limit: number, windowMs: number): Promise<Taken>
}

/**
 * In-flight locks on (network, asset, payer, nonce): between verify and settle nothing on
 * chain stops the same signature being presented twice at once, so this does.
 *
 * Contract: a lock, once acquired, excludes every other holder (any process sharing the
 * store) until it is released or `ttlMs` has passed: of concurrent `acquire`s of a free key
 * exactly one resolves `true`. `release` frees it at once.
 *
 * Implementations: memory (`createMemoryLocks`, one process), Redis (`createRedisLocks`,
 * `SET NX PX`), PostgreSQL (`createPostgresLocks`). In both, a holder's release never frees
 * a lock that expired and went to another.
 */
export type Locks = {
  /** Takes the lock; `false` if someone holds it. Expires after `ttlMs` as a safety net. */
  acquire(key: string, ttlMs: number): Promise<boolean>
  release(key: string): Promise<void>
}

/** Every store a paywall uses, as `resolveStores` picks them. */
export type Stores = {
  ledger: PaymentLedger
  /**
   * The credit store, or where it is opened from (a SQLite file, or PostgreSQL), opened only
   * when credit is on.
   */
  credits: CreditStore | { path: string } | { url: string }
  locks: Locks
  spentProofs: SpentProofs
  counters: Counters
  /** Rate-limit counts (ratelimit/types.ts): in this process, or Redis. */
  rateLimits: RateLimitStore
  /** The networked backends the defaults came from (keys and usage follow them). */
  backends: Backends
  /** Lets go of what the stores opened here (a shared Redis client); the ledger closes apart. */
  release(): Promise<void>
}

/**
 * The `stores` option (docs/deploying.md): the two backends every store defaults to, and any
 * store object or location that replaces its default. A location string is a SQLite file
 * path (`sqlite:` prefix allowed) or a `postgres://` URL.
 *
 * @example
 * x402Middleware({ price: 0.01, stores: { databaseUrl: 'postgres://127.0.0.1/app', redisUrl: 'redis://127.0.0.1:6379' } })
 */
export type StoresOptions = {
  /**
   * PostgreSQL for the ledger of record, credit, keys and usage (and locks, proofs, counters
   * and rate limits when there is no Redis); migrated on start. A value that is not a
   * `postgres://` URL is the SQLite file of the ledger.
   * @default `X402_DATABASE_URL`, else `databaseUrl` in 402x.config.json, else `.402x/ledger.db`
   */
  databaseUrl?: string
  /**
   * Redis for the state every instance shares fast: in-flight locks, sign-in proofs,
   * counters and rate limits.
   * @default `X402_REDIS_URL`, else `redisUrl` in 402x.config.json, else PostgreSQL when given, else this process
   */
  redisUrl?: string
  /** The payments ledger, a SQLite file path or a PostgreSQL URL. Same as the top-level `ledger` option (give one). @default from `databaseUrl` */
  ledger?: PaymentLedger | string
  /** The credit store, a SQLite file path or a PostgreSQL URL. Same as `credits.path` (give one). @default the payments ledger's */
  credits?: CreditStore | string
  /** In-flight locks. Same as the top-level `locks` option (give one). @default Redis, else PostgreSQL, else in-process */
  locks?: Locks
  /** Spent sign-in proofs. @default Redis, else PostgreSQL, else in-process */
  spentProofs?: SpentProofs
  /** Free-tier counters. @default Redis, else PostgreSQL, else in-process */
  counters?: Counters
  /**
   * Rate-limit counts: a store object, or a `redis://` URL (one atomic script per decision).
   * @default `redisUrl`, else PostgreSQL when `databaseUrl` is one, else in this process
   */
  rateLimits?: RateLimitStore | string
}
