import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'

/** The decoded `PAYMENT-REQUIRED` of a 402; throws when there is none. */
export function requiredOf(response: Response) {
  const decoded = decodeHeader(response.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED (status ${response.status})`)
  return decoded.value
}

/** The parsed `X-402x-Receipt` of an answer, or `null`. */
export const receiptOf = (response: Response) => JSON.parse(response.headers.get('x-402x-receipt') ?? 'null')

/** A `PAYMENT-SIGNATURE` value: `requirements` paid by `buyer` (EIP-3009, signed here). */
export const signedPayment = (
  buyer: { address: `0x${string}`; privateKey: `0x${string}` },
  requirements: PaymentRequirements,
) => encodeHeader(createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements }))
