import type { CreditReceipt, PaymentRequirements } from '@402x/core'

/** The request as the framework shows it (see {@link PriceFunction}). */
// biome-ignore lint/suspicious/noExplicitAny: each framework has its own request type.
export type AnyRequest = any

/**
 * Who called a paid route, as its handler sees it: `req.x402` on Express, Node and
 * Fastify, `c.get('x402')` on Hono, `x402Of(request)` on fetch and Next.js. With
 * `trackingHeaders: true` the Node adapters also put it in the request's headers
 * (`X-402x-Consumer`, `X-402x-Plan`, `X-402x-Request-Id`, `X-402x-Paid`); headers of those
 * names sent by the caller are always removed first.
 */
export type X402Caller = {
  /** A fresh id per request (`X-402x-Request-Id`). */
  requestId: string
  /** How the call is paid: an API key's plan, a single x402 payment, or credit. */
  kind: 'key' | 'payer' | 'credit'
  /** The key's id, the payer's address, or the credit account (`X-402x-Consumer`). */
  consumer: string
  /** The key's plan (`X-402x-Plan`). */
  plan?: string
  /** What this call is paid, in dollars of `asset` (`X-402x-Paid: 0.01 0x…`); 0 within a plan. */
  paid?: { amount: string; asset: string }
}

// What the paywall core decides about one request, and what adapters apply (docs/architecture.md,
// "The seam"). Re-exported by types.ts.

/**
 * What the core reads of a request: its URL, method and headers. A Web `Request` is one;
 * the Node adapters pass a lighter view of the Node request (no Web objects on the hot
 * path). `parsedUrl`, when given, is `new URL(url)` already made.
 */
export type RequestHead = {
  readonly url: string
  readonly method: string
  readonly headers: { get(name: string): string | null }
  readonly parsedUrl?: URL
}

/**
 * What {@link Decision} `finishStatus` decided from the handler's status: send the
 * handler's answer with these headers added (`headers`; paid), send it as it is
 * (`undefined`; released, nothing charged), or send this `Response` instead (a 402, a 503).
 */
export type StatusOutcome = { headers: [string, string][] } | Response | undefined

/** What went back to the payer of a payment served in part (`finishReturning`). */
export type Returned = {
  /** Atomic units given back. */
  amount: bigint
  /** As credit, or sent back on chain (`credits.refund: 'onchain'`). */
  refund: 'credit' | 'onchain'
  /** The token of the credit account opened for it (absent when the payer's own token was credited). */
  token?: string
  /** The account's available credit after it, atomic units. */
  balance?: bigint
  /** The refund transfer, when sent on chain. */
  transaction?: string
  /** Why it could not be given back now (the credit store failed): the payment stands. */
  error?: string
}

/**
 * What {@link Decision} `finishReturning` did: served with these headers (the settlement, a new
 * token) and this much given back, or this `Response` to send instead (a failed settlement).
 */
export type ReturnOutcome = { headers: [string, string][]; returned: Returned } | Response

/** What the core decides about one request (docs/architecture.md, "The seam"). */
export type Decision =
  | {
      type: 'skip'
      /** Headers the answer must carry all the same (a rate limit's `RateLimit`). */
      headers?: [string, string][]
    }
  | {
      type: 'respond'
      response: Response
      /** Set on a 402: what the error handler gets with `errors: 'next'`. */
      paymentRequired?: {
        price: string
        accepts: PaymentRequirements[]
        error?: { reason: string; message: string } | undefined
      }
    }
  | {
      type: 'proceed'
      /** Who called and how it is paid: the handler's `req.x402` (callerView.ts). */
      caller?: X402Caller
      /** Settles when the handler's response is < 400 and returns what to send. */
      finish(response: Response): Promise<Response>
      /**
       * {@link finish} from the handler's status alone, for adapters that keep the answer in
       * their own response object (Node): no Web `Response` is built for a paid answer.
       * Absent where the core needs the body (credit, metering): use `finish` then.
       */
      finishStatus?(status: number): Promise<StatusOutcome>
      /**
       * Served in part (a GraphQL batch some of whose operations failed): settles the payment
       * as `finishStatus(200)` does, then gives `returned` atomic units of it back to the payer
       * (pipeline/returnPart.ts). Present on an x402 payment when credit is on.
       */
      finishReturning?(returned: bigint): Promise<ReturnOutcome>
      /** The handler did not finish or the client went away: release, charge nothing. */
      abort(reason: string): Promise<void>
      /**
       * The paid response `finish` returned could not be delivered (the connection closed
       * first): the same payment is then served once more on a retry, with no new charge.
       */
      undelivered(): Promise<void>
      /** What the payment paid; absent when the request is paid from credit. */
      requirements?: PaymentRequirements
      /**
       * Metered routes: bill a streamed response as it goes instead of buffering it. `sse`:
       * the body is `text/event-stream`. The adapter sends `streamHeaders()` with the head.
       */
      stream?(sse: boolean): StreamMeter
      streamHeaders?(): Headers
    }

/** A metered response billed as it streams (`Decision.stream`; paywall/streamMeter.ts). */
export type StreamMeter = {
  /** Feed a chunk the handler wrote: what to send now, and whether the reserve is used up. */
  write(chunk: Uint8Array): { send: Uint8Array | undefined; stop: boolean }
  /**
   * The stream ends (the handler ended it, or the reserve ran out): captures what was sent,
   * releases the rest, and returns the unsent tail plus, on SSE, a final `x402-receipt` event.
   */
  end(): Promise<{ send: Uint8Array | undefined; receipt: CreditReceipt }>
  /** The caller went away: capture only what was sent. */
  abandon(): Promise<void>
  /** For time-priced streams: ms until the reserve is used up (the adapter ends it then). */
  exhaustsInMs(): number | undefined
  readonly stopped: boolean
}

/** A decision to run the handler: what every adapter holds while it runs. */
export type Proceed = Extract<Decision, { type: 'proceed' }>
