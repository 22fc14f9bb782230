import {
  findMatchingRequirements,
  type Invalid,
  type PaymentPayload,
  type PaymentPayloadV1,
  type PaymentRequirements,
  upgradePayloadV1,
} from '@402x/core'

export type MatchedPayment =
  | { ok: true; payload: PaymentPayload; requirements: PaymentRequirements }
  | { ok: false; error: Invalid }

/**
 * Which of this request's requirements a decoded payment pays (a v1 payload is read as v2
 * against them). A payment signed for another amount of an option offered here is
 * `price_changed` when the price is computed per request, else a plain mismatch.
 */
export function matchPayment(
  decoded: PaymentPayload | PaymentPayloadV1,
  accepts: PaymentRequirements[],
  options: { computed: boolean; price: string; payer: string | undefined },
): MatchedPayment {
  let payload: PaymentPayload
  if (decoded.x402Version === 2) {
    payload = decoded as PaymentPayload
  } else {
    const v1 = decoded as PaymentPayloadV1
    const upgraded = upgradePayloadV1(v1, accepts)
    if (!upgraded) {
      return {
        ok: false,
        error: {
          isValid: false,
          reason: 'invalid_network',
          message: `X-PAYMENT pays ${v1.scheme} on ${v1.network}; this resource accepts ${accepts.map((a) => `${a.scheme} on ${a.network}`).join(', ')}`,
        },
      }
    }
    payload = upgraded
  }
  const requirements = findMatchingRequirements(payload.accepted, accepts)
  if (requirements) return { ok: true, payload, requirements }
  const { accepted } = payload
  if (options.computed && accepts.some((a) => findMatchingRequirements({ ...accepted, amount: a.amount }, [a]))) {
    return {
      ok: false,
      error: {
        isValid: false,
        reason: 'price_changed',
        message: `this request costs $${options.price} now, and the payment was signed for ${accepted.amount} atomic units: sign a payment for the amount in PAYMENT-REQUIRED (nothing was charged)`,
        ...(options.payer ? { payer: options.payer } : {}),
      },
    }
  }
  // Everything matches but the EIP-712 domain the payer signed under (`extra.name`/`version`):
  // say so, rather than a mismatch (or, at the facilitator, a bad signature).
  const domainOf = (r: PaymentRequirements) => `${String(r.extra?.name)}/${String(r.extra?.version)}`
  const sameButDomain = accepts.find(
    (a) => findMatchingRequirements({ ...accepted, extra: a.extra }, [a]) && domainOf(a) !== domainOf(accepted),
  )
  if (sameButDomain) {
    return {
      ok: false,
      error: {
        isValid: false,
        reason: 'invalid_exact_evm_eip712_domain_mismatch',
        message: `the payment was signed for the EIP-712 domain ${domainOf(accepted)}, and this resource's token is ${domainOf(sameButDomain)}: sign again with PAYMENT-REQUIRED's extra (nothing was charged)`,
      },
    }
  }
  return {
    ok: false,
    error: {
      isValid: false,
      reason: 'payment_requirements_mismatch',
      message: `the payment's accepted requirements (${accepted.amount} of ${accepted.asset} to ${accepted.payTo} on ${accepted.network}) are not offered here; pay one of PAYMENT-REQUIRED.accepts`,
    },
  }
}
