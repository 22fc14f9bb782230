import type { PaymentRequirements, SettleResponse } from '@402x/core'
import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Ledger } from '../ledger/types.js'
import type { Locks } from './locks.js'

/** A price in dollars: `0.01`, `"0.01"`, `"$0.01"` or `"0.01 USDC"`. */
export type Price = number | string

/** An asset by address (its EIP-712 domain taken from the network registry), or in full. */
export type AssetOption = string | { address: string; eip712: { name: string; version: string }; decimals?: number }

/** Settings of one priced route. */
export type RouteOptions = {
  price: Price
  /** Shown to payers and in discovery. */
  description?: string
  /** MIME type of the response. @default 'application/json' */
  mimeType?: string
  /** How long a signed payment stays valid, in seconds. @default 60 */
  maxTimeoutSeconds?: number
}

type Common = {
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
  /** Called once per settled payment. */
  onPayment?: (payment: PaymentEvent) => void
  /** How often to reconcile unfinished payments, in ms; 0 turns it off. @default 30000 */
  reconcileIntervalMs?: number
}

/** Options of `x402Middleware`: one price for everything it guards, or a table of routes. */
export type PaywallOptions =
  | (Common & RouteOptions & { routes?: never })
  | (Common & {
      /** `'GET /api/market/:symbol': { price: 0.001 }`; paths not listed are free. */
      routes: Record<string, RouteOptions | Price>
      price?: never
    })

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

/** What the core decides about one request (DESIGN.md, "The seam"). */
export type Decision =
  | { type: 'skip' }
  | { type: 'respond'; response: Response }
  | {
      type: 'proceed'
      /** Settles when the handler's response is < 400 and returns what to send. */
      finish(response: Response): Promise<Response>
      /** The handler did not finish or the client went away: release, charge nothing. */
      abort(reason: string): Promise<void>
      requirements: PaymentRequirements
    }

export type PaywallEvents = {
  verified: [{ id: string; payer: string; amount: bigint; resource: string }]
  payment: [PaymentEvent]
  released: [{ id: string; payer: string; reason: string }]
  failed: [{ id: string; payer: string; reason: string; settle?: SettleResponse }]
  rejected: [{ payer?: string; reason: string; message: string; resource: string }]
  error: [unknown]
}
