import type { PaymentRecord } from '../ledger/types.js'

// The webhook types (docs/webhooks.md): what a seller registers, what the outbox keeps,
// what a receiver gets.

/** Every event type a webhook may subscribe to. */
export const webhookEventTypes = [
  'payment.settled',
  'payment.failed',
  'payment.pending',
  'payment.refunded',
  'credit.topped_up',
  'credit.low',
  'key.created',
  'key.revoked',
  'key.quota_exceeded',
] as const

export type WebhookEventType = (typeof webhookEventTypes)[number]

/**
 * One webhook endpoint, as written in code (`x402Middleware({ webhooks: [...] })`).
 *
 * @example
 * x402Middleware({ price: 0.01, webhooks: [{ url: 'https://example.com/hooks', events: ['payment.settled'], secret: process.env.X402_WEBHOOK_SECRET! }] })
 */
export type WebhookOptions = {
  /** Where events are POSTed: `https://…` (`http://` on the local chain). */
  url: string
  /** The event types sent to it, or `['*']` for all of them. */
  events: readonly (WebhookEventType | '*')[]
  /** The signing secret, `whsec_` + base64 (at least 24 bytes); `402x webhooks add` makes one. */
  secret: string
}

/**
 * How the delivery worker runs (`webhookDelivery`): every field has a default.
 *
 * @example
 * x402Middleware({ price: 0.01, webhooks, webhookDelivery: { timeoutMs: 5_000 } })
 */
export type WebhookDeliveryOptions = {
  /** How often the outbox is read for events to send, in ms. @default 1000 */
  pollIntervalMs?: number
  /** How long one POST may take before it counts as failed, in ms. @default 10000 */
  timeoutMs?: number
  /** The first retry's delay, doubled at each failure (with jitter), in ms. @default 5000 */
  initialBackoffMs?: number
  /** The longest delay between two attempts, in ms. @default 3600000 (an hour) */
  maxBackoffMs?: number
  /** How long an event is retried before its delivery is `failed`, in ms. @default 86400000 (24 h) */
  retryForMs?: number
}

/** Where a webhook was registered. */
export type WebhookSource = 'code' | 'config' | 'admin'

/** A registered webhook, with its secret. */
export type Webhook = {
  id: string
  url: string
  events: readonly string[]
  secret: string
  createdAt: number
  source: WebhookSource
}

/**
 * A webhook as the outbox's table keeps it, for every paywall sharing the ledger: an admin
 * one with its secret (as the admin API saved it); a code or config one without (its secret
 * stays in the code or environment of the paywalls that have it, which alone can sign for
 * it), with when one of them last said it still has it (`seenAt`, ms epoch).
 */
export type StoredWebhook = Omit<Webhook, 'secret'> & { secret?: string; seenAt?: number }

/**
 * An event a store writes in the transaction of the change it reports (a top-up, a refund,
 * a key made or revoked), for the outbox of one ledger (`outbox`, its `WebhookOutbox.id`).
 */
export type StoreEvent = OutboxEvent & { outbox: string }

/**
 * The events a store (credit, keys) wrote with its changes, in its own database, until the
 * webhook worker has moved them into the ledger's outbox. Moving is idempotent (an event
 * id is written once): a worker that dies between the two steps moves it again, harmlessly.
 */
export type StoreEvents = {
  /** The oldest events written for `outbox`, at most `limit`. */
  take(outbox: string, limit: number): Promise<OutboxEvent[]>
  /** Forgets events once they are in the ledger's outbox. */
  drop(ids: readonly string[]): Promise<void>
}

/** One event, as the outbox keeps it: the body a receiver gets is `{ type, timestamp, data }`. */
export type OutboxEvent = {
  /** Stable: every attempt, at every endpoint, sends it as `webhook-id`. */
  id: string
  type: WebhookEventType
  /** ms epoch. */
  timestamp: number
  data: Record<string, unknown>
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

/** One event for one webhook. */
export type Delivery = {
  id: string
  eventId: string
  webhookId: string
  type: WebhookEventType
  status: DeliveryStatus
  attempts: number
  /** ms epoch. */
  nextAttemptAt: number
  lastError?: string
  createdAt: number
  /** The JSON body sent (the same bytes at every attempt). */
  body: string
}

/** How one attempt ended, as the worker reports it to the outbox. */
export type AttemptOutcome = { delivered: true } | { delivered: false; error: string; retryAt: number | undefined }

/** What each webhook has waiting (the admin list's `pending`, `failing`, `lastError`). */
export type WebhookHealth = { pending: number; failing: boolean; lastError?: string }

/**
 * The durable outbox, in the ledger's own database (SQLite, PostgreSQL or memory).
 *
 * Contract:
 * - an event written with a payment's move (`paymentEvents`) commits with it, or not at all
 *   (the events of the credit and key stores commit with their changes in those stores, and
 *   are moved here by the worker: `StoreEvents`);
 * - events are idempotent by id (a second write of one id changes nothing);
 * - `claim` leases each due delivery to one owner at a time, across every process sharing
 *   the database, until it is finished or its lease runs out (a crash leaves it pending).
 */
export type WebhookOutbox = {
  /**
   * Which outbox this is, the same across restarts (the ledger's file or database): the
   * events a credit or key store writes for it carry it (`StoreEvent.outbox`).
   */
  id: string
  /**
   * Set by the webhook service while a webhook listens: the events to write for a payment
   * that moved to a state, inside the ledger's transaction. Unset: nothing is written.
   */
  paymentEvents: ((payment: PaymentRecord) => OutboxEvent[]) | undefined
  /** Writes events on their own (idempotent by id). */
  enqueue(events: OutboxEvent[]): Promise<void>
  /**
   * Fans new events out into deliveries, one per webhook subscribed to the event's type:
   * every webhook of the table (`saved`: admin ones, and the code and config ones of every
   * paywall on the ledger, but those none published since `unseenSince`), plus `webhooks`
   * (this paywall's own, should its `publish` not have landed yet). Returns how many events
   * it took.
   */
  dispatch(webhooks: readonly Pick<Webhook, 'id' | 'events'>[], limit: number, unseenSince: number): Promise<number>
  /**
   * Leases up to `limit` due pending deliveries to `owner` for `leaseMs`, only those of the
   * webhooks in `webhooks` (the ids this paywall can sign for): the others are left to the
   * paywalls that have them.
   */
  claim(owner: string, leaseMs: number, limit: number, webhooks: readonly string[]): Promise<Delivery[]>
  /** Records an attempt; a no-op when `owner` lost the lease. */
  finish(id: string, owner: string, outcome: AttemptOutcome): Promise<void>
  /** Deliveries newest first, filtered; `cursor` is the last one's `next`. */
  deliveries(filter: {
    status?: DeliveryStatus
    webhook?: string
    limit: number
    cursor?: string
  }): Promise<{ deliveries: Delivery[]; next?: string }>
  /** Puts a delivery back to pending, due now. `false` when there is none with that id. */
  replay(id: string): Promise<boolean>
  /** Per webhook id: deliveries pending, whether its last attempt failed, and its error. */
  health(): Promise<Map<string, WebhookHealth>>
  /**
   * Every webhook of the table: those registered with the admin API (with their secrets),
   * and the code and config ones the paywalls on the ledger published (without).
   */
  saved(): Promise<StoredWebhook[]>
  /** Saves a webhook registered with the admin API. */
  save(webhook: Webhook): Promise<void>
  /**
   * Writes this paywall's code and config webhooks into the table, never their secrets, as
   * seen at `now` (a row already there only has its `seenAt` moved on).
   */
  publish(webhooks: readonly Webhook[], now: number): Promise<void>
  /**
   * What no paywall will send: fails the pending deliveries, of a webhook not in `serving`,
   * whose event is older than `olderThan` and that were due before `dueBefore` and are not
   * leased (no paywall on the ledger has their webhook: `error` says so); and forgets the
   * code and config webhooks none published since `unseenSince` once none of their deliveries
   * is pending. Returns the deliveries failed.
   */
  sweep(input: {
    serving: readonly string[]
    olderThan: number
    dueBefore: number
    unseenSince: number
    error: string
  }): Promise<number>
  /**
   * Removes a webhook registered with the admin API (never a code or config one); its
   * pending deliveries fail. `false` when there was none.
   */
  remove(id: string): Promise<boolean>
}
