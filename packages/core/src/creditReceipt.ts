/**
 * What one credit-funded or metered request cost: the `X-402x-Receipt` header (or the
 * `x402-receipt` event of a stream), as the server writes it and the client reads it.
 * Amounts are atomic units of `decimals` decimals.
 *
 * @example
 * const receipt: CreditReceipt = { reserved: 10_000n, captured: 4_000n, returned: 6_000n, balance: 996_000n, decimals: 6, refund: 'credit' }
 */
export type CreditReceipt = {
  /** Held from credit (or paid up front) before the handler ran. */
  reserved: bigint
  /** Charged. */
  captured: bigint
  /** Given back: `reserved - captured`. */
  returned: bigint
  /** The caller's available credit afterwards. */
  balance: bigint
  decimals: number
  /**
   * Where `returned` went: the caller's credit, or a transfer on chain. 402x servers always
   * say; a client keeps what another server says (or leaves it out) as it came.
   */
  refund?: 'credit' | 'onchain' | (string & {})
  /** The refund transfer, when `refund` is `onchain`. */
  transaction?: string
  /** Why nothing (or less than used) was charged: `handler_error`, `metered_over_max`, `meter_failed` … */
  reason?: string
}
