import type { StoreEvent, StoreEvents } from '../webhooks/types.js'

// API keys, plans and quotas (issue 17): what a key is, what a plan allows, what a served
// call on a key records. docs/api-keys.md is the user's page.

/** An API key as stored: never the key itself, only its sha256. */
export type ApiKeyRecord = {
  /** `key_…`, stable, safe to show and log. */
  id: string
  name: string
  /** Who the key belongs to (an email, a customer id …), free text. */
  owner: string | undefined
  /** The plan's name. */
  plan: string
  metadata: Record<string, string>
  /** The key's first characters (`x402_test_ab12`), to recognise it in a list. */
  start: string
  /** Hex sha256 of the whole key. */
  hash: string
  /** The key's own credit account (pay-as-you-go plans draw from it). */
  account: string
  createdAt: number
  /** ms epoch; `undefined`: never expires. */
  expiresAt: number | undefined
  /** ms epoch once revoked. */
  revokedAt: number | undefined
}

export type NewApiKey = {
  name: string
  plan: string
  owner?: string
  metadata?: Record<string, string>
  expiresAt?: number
  /** `live` (`x402_live_…`) or `test` (`x402_test_…`, the local chain's). */
  mode: KeyMode
}

/** The webhook events of a revoke: once for the key, or per key revoked (`KeyStore.revoke`). */
export type RevokeEvents = readonly StoreEvent[] | ((record: ApiKeyRecord) => readonly StoreEvent[])

/** `live` keys pay on a real network; `test` keys on the local chain (`402x dev`). */
export type KeyMode = 'live' | 'test'

/**
 * Where keys live.
 *
 * Contract:
 * - `create` returns the key once; only its hash is stored, and `findByHash` finds it;
 * - `revoke` is seen at once by every store object sharing the backend (read-your-writes);
 *   {@link KeyStore.version} changes once another writer has committed, so that a cache of
 *   keys in front of it forgets what it holds;
 * - ids and hashes are unique;
 * - `revoke` revokes the keys minted from the key (owned by `key:<id>`, or `metadata.mintedBy`
 *   it; recursively) in the same transaction;
 * - the webhook events given to `create` (built from the new record) and `revoke` are
 *   written in the same transaction as the key, or not at all (a revoke that changes
 *   nothing writes none); `webhookEvents` hands them to the webhook worker.
 *
 * Implementations: memory (`createMemoryKeyStore`), SQLite (`createSqliteKeyStore`),
 * PostgreSQL (`createPostgresKeyStore`).
 */
export type KeyStore = {
  create(
    input: NewApiKey,
    events?: (record: ApiKeyRecord) => readonly StoreEvent[],
  ): Promise<{ key: string; record: ApiKeyRecord }>
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>
  get(id: string): Promise<ApiKeyRecord | undefined>
  list(options?: { plan?: string; includeRevoked?: boolean }): Promise<ApiKeyRecord[]>
  /**
   * Revokes the key and, in the same transaction, every key it minted: those owned by
   * `key:<id>` or with `metadata.mintedBy: id` (a portal session signed in with the key
   * creates them), recursively. The minted
   * keys still active are revoked even when the key itself already was, so that a second call
   * finishes what a first one could not. `false` when there is no such key or it was already
   * revoked. `events` are written in the same transaction: an array once, when the key itself
   * is revoked by this call; a function (as `create`'s) once per key this call revokes, the
   * key first, each record with its `revokedAt`.
   */
  revoke(id: string, events?: RevokeEvents): Promise<boolean>
  /**
   * The webhook events written with keys made and revoked, for the worker to move into the
   * ledger's outbox. A store without it cannot carry events: webhooks for `key.created` and
   * `key.revoked` are refused at start-up on it.
   */
  webhookEvents?: StoreEvents
  /**
   * Puts a plan created at run time (the admin API), by name: a second put of a name replaces
   * it. Checked with `checkPlan` first (an `invalid_config` error). A plan given in code of
   * the same name comes first (see `createKeyLookup`).
   */
  putPlan(plan: PlanDefinition): Promise<void>
  /** The plans put at run time, by name. */
  plans(): Promise<PlanDefinition[]>
  /**
   * Changes whenever a write has committed, this store object's own or another writer's
   * (SQLite: its own writes, and `data_version` for other connections; PostgreSQL: its own
   * writes, and another instance's once its `pg_notify` arrives on `LISTEN`, milliseconds
   * after the commit); memory: every write.
   * Cheap and synchronous: a cache in front reads it per request.
   */
  version(): number
  close(): Promise<void>
}

/** A rate limit inside a plan (the `rateLimit` option's shape, JSON-serialisable). */
export type PlanRateLimit =
  | { maxRequests: number; windowMs: number; algorithm?: 'sliding-window' | 'fixed-window' }
  | { algorithm: 'token-bucket'; capacity: number; refillPerSecond: number }

/** A plan, as JSON: what the admin API, `402x keys` and the presets speak. */
export type PlanDefinition = {
  name: string
  /** Route patterns it covers (`GET /api/*`, `/api/*`, exact paths), or `'all'` routes. */
  routes: 'all' | string[]
  rateLimits: PlanRateLimit[]
  /** Per UTC day and per UTC month: requests, or units on metered routes. */
  quota: { day?: number; month?: number }
  /**
   * Past the quota: `block` answers 429 `quota_exceeded` with the reset time; `{ price }`
   * bills each call over it (dollars per call), drawn from the key's credit account.
   */
  overage: 'block' | { price: string }
  /**
   * How a call within the plan is paid: `included` (the plan's allowance: nothing drawn per
   * call), or `credits` (pay-as-you-go: the route's price drawn from the key's credit).
   */
  billing: 'included' | 'credits'
}

/** One served call on a key. Amounts are atomic units of the asset, exact. */
export type UsageEvent = {
  keyId: string
  /** The route's pattern (`GET /api/data`). */
  route: string
  /** 1 per request, or the metered units. */
  units: number
  amount: bigint
  asset: string
  status: number
  at: number
  /** Unique per served call: a second `record` of it is ignored (and releases nothing). */
  requestId: string
  /**
   * The quota reservations this call made before it was served (`UsageStore.reserve`),
   * released by the same `record` that counts its `units`, so that `used` never counts the
   * call twice nor drops it in between. A call that is not served gives its reservations
   * back with `release` instead.
   */
  reserved?: { period: string; units: number }[]
}

/** What `UsageStore.events` reads: one page of the events recorded in [from, to). */
export type UsageEventsQuery = {
  /** ms epoch, inclusive. */
  from: number
  /** ms epoch, exclusive. */
  to: number
  /** Only this key's events. @default every key's */
  keyId?: string
  /** The last event of the page before (its `at` and `requestId`): this page starts after it. */
  after?: { at: number; requestId: string } | undefined
  /** Events per page, 1 to 1000. @default 500 */
  limit?: number
}

/** A key's usage over a period, per route. */
export type Statement = {
  keyId: string
  from: number
  to: number
  /** One line per route, sorted by route. */
  lines: { route: string; calls: number; units: number; amount: bigint }[]
  total: { calls: number; units: number; amount: bigint }
}

/**
 * Usage events, kept in the ledger store, and the quota counters they agree with.
 *
 * Contract:
 * - `record` is durable once resolved and idempotent by `requestId`;
 * - `statement` sums exactly what was recorded in [from, to);
 * - `events` pages through exactly what was recorded in [from, to), each event once;
 * - `used(keyId, period)` equals the units recorded in that UTC day (`d:2026-12-06`) or
 *   month (`m:2026-12`), plus what `reserve` has reserved and not released;
 * - `reserve` is atomic: of concurrent reserves, those that succeed never take `used` past
 *   `limit`; `release` gives back a reservation that was not served; a served call's
 *   reservation is released by its `record` (`UsageEvent.reserved`).
 *
 * Memory and SQLite keep the quota counters in memory, per process: seeded from the events
 * recorded in the period on first use, then kept up by this process's `record`s (SQLite: and
 * by the rows other connections add, read past the last rowid seen). Their reservations are this
 * process's own, so several processes on one file can together exceed a quota by what they
 * have in flight. PostgreSQL keeps them in the database, shared by every instance: its
 * `used` and `reserve` weigh every instance's reservations, each a lease its instance
 * renews (a killed instance's stop counting once it lapses).
 *
 * Implementations: memory (`createMemoryUsageStore`), SQLite (`createSqliteUsageStore`),
 * PostgreSQL (`createPostgresUsageStore`).
 */
export type UsageStore = {
  /** Records served calls, in one transaction; `requestId`s already recorded are skipped. */
  record(events: UsageEvent[]): Promise<void>
  statement(keyId: string, from: number, to: number): Promise<Statement>
  /**
   * One page of the events recorded in [from, to), oldest first (by `at`, then `requestId`),
   * without their `reserved`: the export reads a period page by page, each page after the
   * last event of the one before (`after`). A page shorter than `limit` is the last.
   *
   * @example
   * let page = await usage.events({ from, to, limit: 500 })
   * while (page.length === 500) page = await usage.events({ from, to, limit: 500, after: page.at(-1) })
   */
  events(query: UsageEventsQuery): Promise<UsageEvent[]>
  used(keyId: string, period: string): Promise<number>
  reserve(keyId: string, period: string, units: number, limit: number): Promise<{ ok: boolean; used: number }>
  /**
   * {@link UsageStore.reserve} decided at once, where the counters are in this process (memory,
   * SQLite; PostgreSQL has none): the Node fast path's. Throws where `reserve` would reject.
   * SQLite reads another connection's commits (`data_version`) at most every 10 ms here: an
   * event another process recorded counts in this one's quota 10 ms later at most, as if it
   * were still in flight there (`reserve` reads them at once).
   */
  reserveNow?(keyId: string, period: string, units: number, limit: number): { ok: boolean; used: number }
  release(keyId: string, period: string, units: number): Promise<void>
  close(): Promise<void>
}

/** Why a presented key is refused. */
export type KeyRefusalReason = 'invalid_key' | 'key_revoked' | 'key_expired'

/** What `createKeyLookup(...).find(key)` answers: the key and its plan, or why not. */
export type KeyLookupResult =
  | { ok: true; record: ApiKeyRecord; plan: PlanDefinition }
  | { ok: false; reason: KeyRefusalReason; message: string }

/** A cache of keys in front of a `KeyStore` (`createKeyLookup`). */
export type KeyLookup = {
  /**
   * Looks a presented key up: refused without a store lookup when malformed; cached by hash
   * until the store's `version()` changes. Throws `invalid_config` for a key whose plan is
   * neither given in code nor put in the store, and `store_unavailable` when the store fails.
   */
  find(presentedKey: string): Promise<KeyLookupResult>
  /**
   * {@link KeyLookup.find} from the cache alone, without waiting: the key and its plan, or its
   * refusal, when both are cached; `undefined` when `find` would have to ask the store (a key
   * not seen since the cache was last forgotten, a malformed one). The Node fast path's. It
   * reads `store.version()` at most every `findNowEveryMs` (5 ms by default).
   */
  findNow(presentedKey: string): KeyLookupResult | undefined
  /**
   * Forgets every cached key and plan at once: after a write through this process (a revoke,
   * a plan put), so that the next request reads them again whatever the clock says.
   */
  forget(): void
}
