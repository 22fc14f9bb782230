import { randomUUID } from 'node:crypto'
import {
  createPayment,
  decodeHeader,
  encodeHeader,
  type PaymentPayload,
  PaymentRequiredSchema,
  type PaymentRequirements,
} from '@402x/core'
import type { Ledger } from '402x-api'

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

/**
 * Writes a payment's ledger row as a process does before its handler runs (`verified`), for
 * tests that stage a crash after it. Returns the row's id.
 */
export async function recordVerified(
  ledger: Ledger,
  input: { payment: PaymentPayload; requirements: PaymentRequirements; payer: string; url: string },
): Promise<string> {
  const { payment, requirements } = input
  const auth = (payment.payload as { authorization: { nonce: string; validBefore: string } }).authorization
  const id = randomUUID()
  await ledger.insert({
    id,
    state: 'verified',
    network: requirements.network,
    asset: requirements.asset,
    payTo: requirements.payTo,
    payer: input.payer,
    nonce: auth.nonce,
    amount: requirements.amount,
    validBefore: Number(auth.validBefore),
    method: 'GET',
    resource: input.url,
    payload: JSON.stringify(payment),
    requirements: JSON.stringify(requirements),
  })
  return id
}
