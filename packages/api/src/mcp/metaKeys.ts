/**
 * The `_meta` keys of x402's MCP transport (coinbase/x402 `specs/transports-v2/mcp.md`), and
 * 402x's own, for what that transport has no key for (credit).
 */
export const metaKeys = {
  /** Client → server, in `params._meta`: the x402 `PaymentPayload`. */
  payment: 'x402/payment',
  /** Server → client, in the result's `_meta`: the x402 `SettlementResponse`. */
  paymentResponse: 'x402/payment-response',
  /** Client → server, in `params._meta`: a 402x credit token (`x402c_…`), instead of a payment. */
  credit: '402x/credit',
  /** Server → client, in the result's `_meta`: what a credit-funded call cost (`X-402x-Receipt`). */
  creditReceipt: '402x/receipt',
} as const

/** The resource URL of a paid tool, as x402's MCP packages name it. */
export const toolResourceUrl = (name: string) => `mcp://tool/${name}`
