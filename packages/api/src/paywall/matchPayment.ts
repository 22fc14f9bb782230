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
  if (requirements) {
    const tooLong = windowTooLong(payload, requirements, options.payer)
    return tooLong ? { ok: false, error: tooLong } : { ok: true, payload, requirements }
  }
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

/** How far a payer's clock may run ahead of this server's, in seconds. */
export const clockSkewSeconds = 60

/**
 * An authorization valid for longer than the resource accepts (`maxTimeoutSeconds`, which
 * `nonceExpiry` sets): refused, so that a signed payment cannot be held back and spent
 * long after it was signed. A payer's clock may run up to {@link clockSkewSeconds} ahead.
 */
function windowTooLong(
  payload: PaymentPayload,
  requirements: PaymentRequirements,
  payer: string | undefined,
  now = Math.floor(Date.now() / 1000),
): Invalid | undefined {
  const validBefore = (payload.payload as { authorization?: { validBefore?: unknown } }).authorization?.validBefore
  if (typeof validBefore !== 'string' || !/^\d{1,30}$/.test(validBefore)) return undefined
  const latest = now + requirements.maxTimeoutSeconds + clockSkewSeconds
  if (BigInt(validBefore) <= BigInt(latest)) return undefined
  return {
    isValid: false,
    reason: 'invalid_exact_evm_payload_authorization_valid_before',
    message: `the authorization is valid until ${validBefore}, longer than this resource accepts (${requirements.maxTimeoutSeconds} s from now, ${now}): sign one whose validBefore is at most now + maxTimeoutSeconds`,
    ...(payer ? { payer } : {}),
  }
}
