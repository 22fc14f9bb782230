import type { SettleResponse } from '@402x/core'
import type { ResolvedRoute } from '../../paywall/resolvePaywall.js'

/** A metered request with its maximum reserved from a credit account. */
export type Metered = {
  route: ResolvedRoute
  account: string
  reservationId: string
  reserved: bigint
  resourceUrl: string
  /** A token for a credit account opened by this request. */
  token?: string
  /** The payment of the maximum, when the request was not paid from credit. */
  paid?: {
    id: string
    payer: string
    settle: SettleResponse
    v1: boolean
    /** Paid in the main asset on the main network: what an on-chain refund sends back. */
    refundable: boolean
    /** A signed-in retry of the payment, served from its credit. */
    recovered?: boolean
  }
}
