import { decodeHeader, headers, PaymentRequiredSchema, parseMoney } from '@402x/core'
import { z } from 'zod'
import type { CreditReceipt } from './types.js'

/** The x402 extension a seller with prepaid credit adds to its 402s. */
export const creditsExtensionKey = '402x-credits'

/** The headers of prepaid credit. */
export const creditHeaders = {
  /** A new credit account's bearer token (a top-up, or a metered payment's remainder). */
  token: 'X-402x-Credit-Token',
  /** What a credit-funded or metered request cost (JSON of atomic unit strings). */
  receipt: 'X-402x-Receipt',
  /**
   * What a metered stream holds from credit, in atomic units: its head carries this instead of
   * a receipt, which comes as the stream's final `x402-receipt` SSE event.
   */
  reserved: 'X-402x-Reserved',
} as const

/** What a 402 says about buying credit. Amounts are atomic units (6 decimals). */
export type CreditOffer = {
  /** Where credit is bought: `POST <topUp>?amount=<dollars>`. */
  topUp: string
  minTopUp?: bigint
  maxTopUp?: bigint
  suggested?: bigint
  /** The balance of the token the request carried. */
  balance?: bigint
}

const dollars = z.string().optional()
const OfferSchema = z.looseObject({
  info: z.looseObject({
    topUp: z.url({ protocol: /^https?$/ }),
    minTopUp: dollars,
    maxTopUp: dollars,
    suggested: dollars,
    balance: dollars,
  }),
})

const atomic = z.string().regex(/^\d{1,78}$/)
const ReceiptSchema = z.looseObject({
  reserved: atomic,
  captured: atomic,
  returned: atomic,
  balance: atomic,
  decimals: z.number().int().min(0).max(36),
  refund: z.string().optional(),
  transaction: z.string().optional(),
  reason: z.string().optional(),
})

// RFC 6750 b64token: what may follow `Bearer ` (the server's are `x402c_<base64url>`).
const tokenPattern = /^[A-Za-z0-9\-._~+/]{8,512}=*$/

const money = (value: string | undefined) => {
  if (value === undefined) return undefined
  try {
    return parseMoney(value, { rounding: 'down' })
  } catch {
    return undefined
  }
}

/** The `402x-credits` offer of a 402, if it makes one. */
export function creditOfferOf(response: Response): CreditOffer | undefined {
  const value = response.headers.get(headers.paymentRequired)
  const decoded = value ? decodeHeader(value, PaymentRequiredSchema) : undefined
  const offer = decoded?.ok ? OfferSchema.safeParse(decoded.value.extensions?.[creditsExtensionKey]) : undefined
  if (!offer?.success) return undefined
  const { info } = offer.data
  const result: CreditOffer = { topUp: info.topUp }
  for (const key of ['minTopUp', 'maxTopUp', 'suggested', 'balance'] as const) {
    const amount = money(info[key])
    if (amount !== undefined) result[key] = amount
  }
  return result
}

/**
 * What a credit-funded or metered response cost: its `X-402x-Receipt` header, parsed.
 * (A stream ends with an `x402-receipt` SSE event instead: read it with `streamReceiptOf`.)
 *
 * @example
 * const cost = creditReceiptOf(await pay('https://api.example.com/chat'))
 * if (cost) console.log(`charged ${cost.captured}, ${cost.balance} left`)
 */
export function creditReceiptOf(response: Response): CreditReceipt | undefined {
  const value = response.headers.get(creditHeaders.receipt)
  return value ? parseCreditReceipt(value) : undefined
}

/** A receipt's JSON (`X-402x-Receipt`, or the data of an `x402-receipt` event), if it is one. */
export function parseCreditReceipt(value: string): CreditReceipt | undefined {
  let json: unknown
  try {
    json = JSON.parse(value)
  } catch {
    return undefined
  }
  const parsed = ReceiptSchema.safeParse(json)
  if (!parsed.success) return undefined
  const r = parsed.data
  return {
    reserved: BigInt(r.reserved),
    captured: BigInt(r.captured),
    returned: BigInt(r.returned),
    balance: BigInt(r.balance),
    decimals: r.decimals,
    ...(r.refund === undefined ? {} : { refund: r.refund }),
    ...(r.transaction === undefined ? {} : { transaction: r.transaction }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
  }
}

/** The new credit token a response hands over, if any. */
export function creditTokenOf(response: Response): string | undefined {
  const value = response.headers.get(creditHeaders.token)?.trim()
  return value && tokenPattern.test(value) ? value : undefined
}

/** Whether a string may be sent as a bearer token. */
export const isCreditToken = (value: string) => tokenPattern.test(value)

/** An amount of `decimals` decimals in 6-decimal atomic units (dollars of USDC), rounded down. */
export function toMicros(amount: bigint, decimals: number): bigint {
  return decimals >= 6 ? amount / 10n ** BigInt(decimals - 6) : amount * 10n ** BigInt(6 - decimals)
}
