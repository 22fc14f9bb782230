import { findNetwork, toCaip2 } from './networks.js'
import type { PaymentPayload, PaymentPayloadV1, PaymentRequirements, PaymentRequirementsV1 } from './types.js'

const same = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && a.startsWith('0x') && b.startsWith('0x')
    ? a.toLowerCase() === b.toLowerCase()
    : a === b

/**
 * Whether a payer's `accepted` requirements match ours: every field equal, and `extra` a
 * superset of ours. Returns the first of `candidates` that matches.
 *
 * @example
 * const requirement = findMatchingRequirements(payload.accepted, accepts)
 */
export function findMatchingRequirements(
  accepted: PaymentRequirements,
  candidates: readonly PaymentRequirements[],
): PaymentRequirements | undefined {
  return candidates.find((ours) => {
    for (const key of Object.keys(ours) as (keyof PaymentRequirements)[]) {
      if (key === 'extra') continue
      if (!same(ours[key], accepted[key])) return false
    }
    for (const [key, value] of Object.entries(ours.extra ?? {})) {
      if (JSON.stringify(accepted.extra?.[key]) !== JSON.stringify(value)) return false
    }
    return true
  })
}

/**
 * Reads a v1 `X-PAYMENT` payload as v2 against our requirements: v1 names no requirements,
 * so the first of ours with its scheme and network is the one it pays.
 */
export function upgradePayloadV1(
  payload: PaymentPayloadV1,
  candidates: readonly PaymentRequirements[],
): PaymentPayload | undefined {
  const network = toCaip2(payload.network)
  const accepted = candidates.find((c) => c.scheme === payload.scheme && c.network === network)
  if (!accepted) return undefined
  return { x402Version: 2, accepted, payload: payload.payload }
}

/** Our v2 requirements as v1 requirements, for a v1-readable 402 body. */
export function toRequirementsV1(
  requirements: PaymentRequirements,
  resource: { url: string; description?: string | undefined; mimeType?: string | undefined },
): PaymentRequirementsV1 {
  return {
    scheme: requirements.scheme,
    network: findNetwork(requirements.network)?.v1Name ?? requirements.network,
    maxAmountRequired: requirements.amount,
    resource: resource.url,
    description: resource.description ?? '',
    mimeType: resource.mimeType ?? 'application/json',
    payTo: requirements.payTo,
    maxTimeoutSeconds: requirements.maxTimeoutSeconds,
    asset: requirements.asset,
    ...(requirements.extra ? { extra: requirements.extra } : {}),
  }
}

/** v1 or v2 requirements as v2. */
export function toRequirementsV2(requirements: PaymentRequirements | PaymentRequirementsV1): PaymentRequirements {
  if ('amount' in requirements && typeof requirements.amount === 'string') return requirements as PaymentRequirements
  const v1 = requirements as PaymentRequirementsV1
  return {
    scheme: v1.scheme,
    network: toCaip2(v1.network),
    amount: v1.maxAmountRequired,
    asset: v1.asset,
    payTo: v1.payTo,
    maxTimeoutSeconds: v1.maxTimeoutSeconds,
    ...(v1.extra ? { extra: v1.extra } : {}),
  }
}
