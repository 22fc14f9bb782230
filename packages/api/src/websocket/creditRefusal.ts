import { decodeHeader, encodeHeader, PaymentRequiredSchema, headers as x402Headers } from '@402x/core'
import { creditsExtension, creditsOffer, type ResolvedCredits } from '../paywall/credits.js'
import { errorResponse } from '../paywall/responses.js'

/**
 * The 402 of a billed connect whose credit cannot pay the connect price and one unit, as
 * HTTP's `insufficient_credit` 402 is: the deposit's challenge (a payment of it sent with the
 * token tops that account up as it connects again), the top-up offer and the balance in the
 * body (`credits`) and in `PAYMENT-REQUIRED` (the `402x-credits` extension), the reason in both.
 */
export async function creditRefusal(input: {
  /** The credit endpoint's answer for the deposit: its 402 is the challenge. */
  challenge: Response | undefined
  credits: ResolvedCredits
  /** The origin callers use (`publicUrl`, else the upgrade's). */
  origin: string
  /** The account's available credit, atomic units. */
  available: bigint
  message: string
}): Promise<Response> {
  const offer = creditsOffer(input.credits, input.origin, input.available)
  const reason = 'insufficient_credit'
  const { challenge } = input
  const required = challenge?.status === 402 ? challenge.headers.get(x402Headers.paymentRequired) : null
  const decoded = required ? decodeHeader(required, PaymentRequiredSchema) : undefined
  if (!challenge || !decoded?.ok) {
    // No deposit to offer (the credit endpoint refused it): the top-up offer alone.
    const refused = errorResponse(402, reason, input.message)
    const body = { ...((await refused.json()) as Record<string, unknown>), credits: offer }
    return new Response(JSON.stringify(body), { status: 402, headers: refused.headers })
  }
  const header = encodeHeader({
    ...decoded.value,
    error: reason,
    extensions: { ...decoded.value.extensions, ...creditsExtension(offer) },
  })
  const body = {
    ...((await challenge.clone().json()) as Record<string, unknown>),
    error: 'Payment refused',
    reason,
    message: input.message,
    credits: offer,
  }
  const headers = new Headers(challenge.headers)
  headers.delete('content-length')
  headers.set(x402Headers.paymentRequired, header)
  return new Response(JSON.stringify(body), { status: 402, headers })
}
