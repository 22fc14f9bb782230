import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { CommonOptions, Price } from '../paywall/types.js'

/** What a connection is billed for while it is open, drawn from the caller's credit. */
export type WebSocketBilling =
  /** Dollars per message the server sends. */
  | { perMessage: Price; perKB?: never; perSecond?: never }
  /** Dollars per 1,000 bytes the server sends (a text message counted as its UTF-8 bytes). */
  | { perKB: Price; perMessage?: never; perSecond?: never }
  /** Dollars per second the connection stays open (counted to the millisecond). */
  | { perSecond: Price; perMessage?: never; perKB?: never }

/** Options of `createX402WebSocket` (and `x402WebSocket.configure`). */
export type X402WebSocketOptions = CommonOptions & {
  /**
   * Dollars to open a connection: paid with an `exact` payment in the upgrade request, or
   * from credit (a bearer token). With `billing`, it is drawn from credit at connect.
   */
  price?: Price
  /** Bill the open connection from credit: per message, per KB or per second. */
  billing?: WebSocketBilling
  /**
   * Dollars of credit an `exact` payment on connect buys when `billing` is set (the 402 asks
   * for it; the new account's token comes back in `X-402x-Credit-Token` and an
   * `x402.credit` message). @default `credits.topUp.suggested` ($1)
   */
  deposit?: Price
  /**
   * Send `x402.credit_low` once the credit left (the connection's reserve plus the account's
   * balance) falls below this many dollars. @default the cost of 100 messages, 100 KB or 10 seconds
   */
  warnBelow?: Price
  /**
   * How much credit a connection reserves at a time, in billed units (messages, KB,
   * seconds): a dropped connection returns what it did not use. @default 1000 messages,
   * 1000 KB or 30 seconds
   */
  reserveUnits?: number
  /** What the 402 challenge says the stream is. @default 'WebSocket stream' */
  description?: string
}

/** A `ws` WebSocket as 402x uses it (any object of this shape). */
export type SocketLike = {
  readonly readyState: number
  send(data: unknown, options?: unknown, cb?: (error?: Error) => void): void
  close(code?: number, reason?: string): void
  /** Cuts the connection at once (`ws` has it): `close()` uses it on a caller that does not answer. */
  terminate?(): void
  on(event: 'close', listener: () => void): unknown
}

/** A `ws` WebSocketServer as `handleUpgrade` uses it. */
export type ServerLike = {
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: SocketLike, req: IncomingMessage) => void,
  ): void
  emit(event: 'connection', ws: unknown, req: IncomingMessage): boolean
  on(event: 'headers', listener: (headers: string[], req: IncomingMessage) => void): unknown
  /** `ws`'s test of its own `path` option: an upgrade it would refuse is refused before it is paid. */
  shouldHandle?(req: IncomingMessage): unknown
}

/** How the connection was paid. */
export type PaidVia = 'exact' | 'credit' | 'key'

/** The answer of `verify(req)`. */
export type WebSocketPayment =
  | {
      verified: true
      via: PaidVia
      /** The credit account billed, when credit pays (a token, or an exact deposit). */
      account?: string
      /** A credit token issued on this connect (an exact deposit opened an account). */
      token?: string
      /** The payer, for exact payments. */
      payer?: string
      /** The settlement transaction of an exact payment. */
      transaction?: string
      /** Atomic units charged at connect (the price; a deposit is credit, not a charge). */
      charged: bigint
      /** Headers of the upgrade's 101 answer (`PAYMENT-RESPONSE`, `X-402x-Credit-Token`, …). */
      headers: [string, string][]
      /** The meter of a billed connection, once bound to its socket. */
      meter?: SocketMeterView
    }
  | {
      verified: false
      /** The HTTP status the upgrade is (or would have been) refused with: 402, 401, 400, 503. */
      status: number
      /** A snake_case reason code: `payment_required`, `insufficient_credit`, `invalid_token` … */
      reason: string
      message: string
      /** The refusal as an HTTP answer (its `PAYMENT-REQUIRED` header is the challenge). */
      response: Response
      /** On `insufficient_credit`: where and how much to top up, and the balance, as HTTP's 402 gives them. */
      credits?: TopUpOffer
    }

/** The top-up offer of a 402 for credit (`credits` in its body, the `402x-credits` extension). */
export type TopUpOffer = {
  /** `POST <topUp>?amount=<dollars>`, paid with x402, with the bearer token, tops the account up. */
  topUp: string
  minTopUp: string
  maxTopUp: string
  suggested: string
  /** The presented token's available credit, in dollars. */
  balance?: string
}

/** What a billed connection's meter shows. */
export type SocketMeterView = {
  /** Atomic units charged so far (the connect price included). */
  charged(): bigint
  /** Billed units so far (messages, KB or seconds). */
  units(): number
  /** Resolves once the connection closed and its charges are written. */
  readonly closed: Promise<{ charged: bigint; balance: bigint }>
}

/** Messages 402x sends on a billed connection (JSON text frames), each with a `type`. */
export type WebSocketNotice =
  | {
      type: 'x402.credit_low'
      /** Dollars left: the connection's reserve plus the account's balance. */
      balance: string
      /** About how many more units that covers. */
      remaining: number
      unit: 'message' | 'KB' | 'second'
      /** Where to top up: `POST <topUp>?amount=<dollars>` with the same bearer token. */
      topUp: string
      message: string
    }
  | { type: 'x402.credit_exhausted'; reason: 'insufficient_credit'; charged: string; topUp: string; message: string }
  | { type: 'x402.credit'; token: string; balance: string; message: string }
  | {
      type: 'x402.payment_required'
      status: number
      reason: string
      message: string
      /** The `PAYMENT-REQUIRED` header value of the refusal, when it has one. */
      paymentRequired?: string
      /** On `insufficient_credit`: the top-up offer and the balance. */
      credits?: TopUpOffer
    }

/** The close code of a connection refused or ended for payment. */
export const paymentCloseCode = 4402
