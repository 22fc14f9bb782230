import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Accept, KeysOptions } from '../keys/options.js'
import type { Ledger } from '../ledger/types.js'
import type { LoggerOption, MetricsOptions } from '../observe/options.js'
import type { PortalOptions } from '../portal/portalOptions.js'
import type { RateLimitOptions } from '../ratelimit/options.js'
import type { StoresOptions } from '../stores/types.js'
import type { WebhookDeliveryOptions, WebhookOptions } from '../webhooks/types.js'
import type { AnyRequest } from './decision.js'
import type { PaymentEvent } from './eventTypes.js'
import type { Locks } from './locks.js'

/** A price in dollars: `0.01`, `"0.01"`, `"$0.01"` or `"0.01 USDC"`. */
export type Price = number | string

/** An asset by address (its EIP-712 domain taken from the network registry), or in full. */
export type AssetOption = string | { address: string; eip712: { name: string; version: string }; decimals?: number }

/**
 * What a price function knows about the payer. On the unpaid request the payer is not
 * known yet (`address` is `undefined`, counts are 0) unless the caller sent the
 * `X-402x-Payer` hint; on the paid request it is the address that signed the payment.
 */
export type PayerInfo = {
  /** The payer's address, lower-case, when known. */
  address: string | undefined
  /** Payments this payer made for this paywall's routes since the start of the month (UTC). */
  monthlyRequests: number
  /** Dollars this payer spent on them since the start of the month (UTC), e.g. "12.5". */
  monthlySpent: string
}

/**
 * A price computed per request, sync or async, from the request the framework shows (for
 * Express, Fastify and Node: its own `req`, with `req.body` parsed; for Hono, Next.js and
 * fetch handlers: a {@link WebRequestInfo}). It must give the same price for the unpaid
 * and the paid attempt of the same request: a payment signed for another amount is
 * refused with `price_changed` and the new price. `0` means this request is free.
 */

export type PriceFunction<Req = AnyRequest> = (req: Req, user: PayerInfo) => Price | Promise<Price>

/** The request as Web-style adapters (Hono, Next.js, fetch) show it to pricing code. */
export type WebRequestInfo = {
  method: string
  url: string
  /** The normalised path. */
  path: string
  headers: Headers
  query: Record<string, string>
  /** Route parameters, e.g. `{ symbol: 'BTC' }` for `/api/market/:symbol`. */
  params: Record<string, string>
  /** The body: parsed JSON, form fields, text, or `undefined` when there is none. */
  body: unknown
  /** The caller's IP address, when the runtime gives it. */
  ip: string | undefined
  raw: Request
}

/** Free requests before payment is asked for: `{ requests: 100, windowMs: 86_400_000, by: 'ip' }`. */
export type FreeTier = {
  /** Free requests per caller per window. */
  requests: number
  /** @default 86_400_000 (a day) */
  windowMs?: number
  /**
   * Who counts as one caller: `'ip'`; `'key'` (the `X-API-Key` header, or `keyHeader`);
   * `'payer'`, a wallet proven with a `SIGN-IN-WITH-X` header (the x402 `sign-in-with-x`
   * extension, offered in the 402); or a function of the request that returns an id
   * (`undefined`: no free requests).
   * @default 'ip'
   */
  by?: 'ip' | 'key' | 'payer' | ((req: AnyRequest) => string | undefined)
  /** @default 'x-api-key' */
  keyHeader?: string
}

/** Settings of one priced route. */
export type RouteOptions = {
  /** A fixed price, or a function of the request (see {@link PriceFunction}). */
  price?: Price | PriceFunction
  /** Per-minute pricing: the price is `pricePerMinute × calculateMinutes(req)`. */
  pricePerMinute?: Price
  calculateMinutes?: (req: AnyRequest) => number | Promise<number>
  /**
   * Checks the request before any payment is asked for or taken: a throw answers 400 with
   * its message, and nothing is charged.
   */
  validate?: (req: AnyRequest) => unknown
  /** Requests served free before payment is asked for. */
  free?: FreeTier
  /** Serve this request free when it returns true (conditional pricing). */
  skip?: (req: AnyRequest) => boolean | Promise<boolean>
  /** Shown to payers and in discovery. */
  description?: string
  /** MIME type of the response. @default 'application/json' */
  mimeType?: string
  /**
   * How long a signed payment stays valid, in seconds (the quoted `maxTimeoutSeconds`),
   * 10 to 86400. Give this or `nonceExpiry`, not both. @default 60
   */
  maxTimeoutSeconds?: number
  /**
   * How long a signed authorization is accepted, in milliseconds (`60000`: a minute), a whole
   * number of seconds from 10 s to a day: the quoted `maxTimeoutSeconds` is this / 1000.
   * @default 60000
   */
  nonceExpiry?: number
  /**
   * Replays are always refused: each signed authorization pays once. `true` says so; it
   * cannot be turned off (`false` stops start-up).
   * @default true
   */
  verifyNonce?: true
  /**
   * Limits how often one caller may call the route (docs/rate-limits.md): decided before
   * anything is verified or charged; a limited call gets 429 `rate_limited`. On a
   * middleware with a `routes` table, one limit shared by all its routes; on a route, that
   * route's own. Several limits: an array, every one applies.
   */
  rateLimit?: RateLimitOptions | RateLimitOptions[]
  /**
   * How this route may be paid: a single x402 payment, credit, an API key's plan. A route
   * that accepts only `'key'` answers 401 `invalid_key` without one.
   * @default every way there is: ['x402', 'credits', 'key'] (the last where `keys` is set)
   */
  accept?: Accept[]

  // Metered prices: known only after the handler ran (see {@link MeteredResponse}). The route
  // reserves `max` from credit (or takes it as one payment), serves, captures what was used
  // and returns the rest.

  /** Dollars per output token, counted by `countTokens`. */
  pricePerToken?: Price
  /**
   * The tokens in a response (its parsed JSON body). On a stream: the tokens in one event
   * (the parsed `data:` of an SSE event, or the text of a chunk), summed as they go out.
   * @default the answer's own count (`tokens`, `usage.completion_tokens`,
   * `usage.output_tokens`), else its text (`choices[].delta.content`, `delta.text`, `text`,
   * `content` …) at 4 UTF-8 bytes a token, rounded up. On a stream an event's `usage` is the
   * total so far and replaces the estimate. An event it cannot count (data that is not JSON,
   * text of an unknown shape) ends the stream with `meter_failed`; a buffered answer it
   * cannot count is a 500 `meter_failed`, charged nothing.
   */
  countTokens?: (response: AnyResponse) => number
  /** Dollars per second of handler time (`trackTime` or `trackExecutionTime`). */
  pricePerSecond?: Price
  /** Charge the time from the handler's start to its last byte (a stream: while it streams). */
  trackTime?: boolean
  /** Charge the handler's execution time (from its start to the end of its response). */
  trackExecutionTime?: boolean
  /** The items in a response (its parsed JSON): the charge is `price × items`. */
  countItems?: (response: AnyResponse) => number
  /**
   * The units in a response (`res.data`: the body as text; `res.body`: parsed JSON): the
   * charge is `price × units`, e.g. `(res) => res.data.length / 1000` for a price per KB.
   */
  meterResponse?: (res: MeteredResponse) => number
  /**
   * Meter the answer whole, once it has ended, even an SSE one: `meterResponse` then sees its
   * status, headers and whole body (a count the upstream puts in a header), and the answer
   * goes out after it is charged, not as it streams. @default false
   */
  meterWhole?: boolean
  /**
   * The most one request of a metered route may cost, in dollars: what is reserved from
   * credit, or paid up front. A stream stops with a final event when it is used up.
   * @default 4096 tokens, 60 seconds, 100 items or 1000 units at the route's price
   */
  max?: Price
  /**
   * An answer that costs more than `max`: `'refuse'` releases the reservation and answers
   * 502 `metered_over_max` (the handler's body is not sent, a warning names the route);
   * `'cap'` serves it, charged `max`. On a stream, the event (or chunk) that goes above
   * `max` is dropped (`'refuse'`) or sent and charged up to `max` (`'cap'`); the stream
   * ends there either way, with a `metered_over_max` event.
   * @default 'refuse'
   */
  overMax?: 'refuse' | 'cap'
  /**
   * A `pricePerToken` stream that ends without stating its usage (OpenAI's final `usage`
   * chunk, sent only when the request asks `stream_options.include_usage`; Anthropic's
   * `output_tokens`): `'estimate'` charges the tokens estimated from its text, `'max'`
   * charges the route's `max` and ends the stream with a `usage_missing` event. An
   * estimate misses hidden reasoning tokens. A caller that leaves early is charged for
   * what was sent either way. `402x proxy` defaults to `'max'`.
   * @default 'estimate'
   */
  missingUsage?: 'estimate' | 'max'
}

/** A parsed response body, as the metering functions see it. */
// biome-ignore lint/suspicious/noExplicitAny: a seller's JSON has any shape.
export type AnyResponse = any

/** A response as `meterResponse` sees it. */
export type MeteredResponse = {
  /** The body as text (one chunk of it, on a stream). */
  data: string
  /** The body parsed as JSON, when it is JSON. */
  body: AnyResponse
  status: number
  headers: Headers
}

/** Prepaid credit (`credits` option; on by default). */
export type CreditsOptions = {
  /**
   * The credit ledger's SQLite file (or give a store object as `stores.credits`). @default the
   * payments ledger's file, or `.402x/credits.db`
   */
  path?: string
  /** Top-up amounts accepted at `POST /__402x/credits?amount=…`, in dollars. */
  topUp?: { min?: Price; max?: Price; suggested?: Price }
  /**
   * What happens to the unused part of a metered request's up-front payment: kept as the
   * caller's credit, or sent back on chain from the payTo wallet (`refundKey`).
   * @default 'credit'
   */
  refund?: 'credit' | 'onchain'
  /** The payTo wallet's private key, for `refund: 'onchain'` (else `X402_REFUND_KEY`). */
  refundKey?: string
  /** The JSON-RPC URL of the main network, for `refund: 'onchain'` (else `X402_RPC_URL`). */
  rpcUrl?: string
  /** How long a metered request may hold its reservation before it is released. @default 600000 */
  reservationTtlMs?: number
}

/** One more way to pay, after the first (`network`, `asset`, `payTo`), in the order preferred. */
export type PaymentOption = {
  network: string
  /** @default the network's USDC */
  asset?: AssetOption
  /** @default the main `payTo` */
  payTo?: string
}

/** The options of a paywall that are not a route's (see {@link PaywallOptions}). */
export type CommonOptions = {
  /**
   * Puts who called into the request's headers for the handler on Node adapters
   * (`X-402x-Consumer`, `X-402x-Plan`, `X-402x-Request-Id`, `X-402x-Paid`); `req.x402` has it
   * either way. Such headers sent by the caller are always removed. @default false
   */
  trackingHeaders?: boolean
  /** API keys and plans (docs/api-keys.md): a caller with a key uses its plan. @default none */
  keys?: KeysOptions
  /**
   * The developer portal at `/__402x/portal` (docs/portal.md): priced routes, try-it, sign-in,
   * a caller's usage, credit and self-service keys. `false` turns it off. @default on, no self-service keys
   */
  portal?: PortalOptions | false
  /** The address paid. Else `X402_PAY_TO`, `402x.config.json` or a running `402x dev`. */
  payTo?: string
  /** CAIP-2 network, e.g. `eip155:8453`. Else `X402_NETWORK`, config, or `402x dev`. */
  network?: string
  /** The asset. @default the network's USDC */
  asset?: AssetOption
  /**
   * The facilitator: an object (`createFacilitator(…)`, `createFacilitatorClient(…)`) or a
   * URL. Else `X402_FACILITATOR_URL`, config, or `402x dev`.
   */
  facilitator?: FacilitatorLike | string
  /** The ledger, or a SQLite file path. @default `.402x/ledger.db` */
  ledger?: Ledger | string
  /** In-flight locks. @default in-process */
  locks?: Locks
  /**
   * The stores behind the paywall's state (docs/architecture.md, "Stores"): any given here
   * replaces its default. `ledger` and `locks` may be given here or above, not both.
   *
   * @example
   * x402Middleware({ price: 0.01, stores: { locks: sharedLocks, counters: sharedCounters } })
   */
  stores?: StoresOptions
  /** More accepted payment options (networks or assets), after the main one. */
  accepts?: PaymentOption[]
  /**
   * `'next'`: hand 402 answers to the framework's error handler as a
   * `PaymentRequiredError` (`err.code === 'PAYMENT_REQUIRED'`, `err.price`,
   * `err.address`), with the `PAYMENT-REQUIRED` header already set. Express and Node only.
   * @default 'respond'
   */
  errors?: 'respond' | 'next'
  /** API docs and discovery: `/openapi.json` and `/.well-known/x402`. */
  discovery?: DiscoveryOptions | false
  /**
   * The URL callers use (`https://api.example.com`, or with a base path): the resource URL
   * in 402s, the ledger and the discovery documents. Else `X402_PUBLIC_URL`, config, or the
   * request's Host header once checked to be a valid `host[:port]`.
   */
  publicUrl?: string
  /**
   * The bearer token of the admin API (`/__402x/admin`) and the dashboard's sign-in. Else
   * `X402_ADMIN_TOKEN`. When set, every caller presents it (or the dashboard's session
   * cookie), this machine's too. Without either, the admin API answers only loopback callers
   * on the local chain, and is off (403 `admin_disabled`) everywhere else.
   */
  adminToken?: string
  /** Prometheus metrics at `/__402x/metrics` (docs/observability.md); `false` turns them off. @default on */
  metrics?: MetricsOptions | false
  /** Structured JSON logs (pino): a logger, `true` (stdout) or `false` (docs/observability.md). @default false */
  logger?: LoggerOption
  /**
   * Webhooks (docs/webhooks.md): Standard Webhooks POSTs of payment, credit and key events,
   * from a durable outbox in the ledger. Also from `402x.config.json` and the admin API.
   */
  webhooks?: WebhookOptions[]
  /** How webhooks are delivered: poll interval, timeout, backoff, for how long. */
  webhookDelivery?: WebhookDeliveryOptions
  /** Called once per settled payment. */
  onPayment?: (payment: PaymentEvent) => void
  /** How often to reconcile unfinished payments, in ms; 0 turns it off. @default `X402_RECONCILE_INTERVAL_MS`, else 30000 */
  reconcileIntervalMs?: number
  /** Prepaid credit: top-ups, bearer tokens, metered prices. `false` turns it off. */
  credits?: CreditsOptions | false
}

export type DiscoveryOptions = {
  /** Where the OpenAPI document is served. @default '/openapi.json' */
  openapiPath?: string | false
  /** Where the x402 manifest is served. @default '/.well-known/x402' */
  manifestPath?: string | false
  /** The seller's own OpenAPI 3.x document, to merge the priced operations into. */
  openapi?: Record<string, unknown>
  /** `info.title` / `info.version` when no document is given. */
  title?: string
  version?: string
}

/** Options of `x402Middleware`: one price for everything it guards, or a table of routes. */
export type PaywallOptions =
  | (CommonOptions & RouteOptions & { routes?: never })
  | (CommonOptions & {
      /** `'GET /api/market/:symbol': { price: 0.001 }`; paths not listed are free. */
      routes: Record<string, RouteOptions | Price>
      /** One limit (or several) that every route of the table shares. */
      rateLimit?: RateLimitOptions | RateLimitOptions[]
      price?: never
    })

export type { CreditReceipt } from '@402x/core'
export type {
  AnyRequest,
  Decision,
  Proceed,
  RequestHead,
  Returned,
  ReturnOutcome,
  StatusOutcome,
  StreamMeter,
} from './decision.js'
export type { PaymentEvent, PaywallEvents, RequestEvent } from './eventTypes.js'
