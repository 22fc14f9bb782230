import type { PaymentRequirements } from '@402x/core'
import { requirementsAt } from '../paywall/pricing.js'
import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'

/** A route's price: fixed dollars, or computed per request (the live 402 carries it). */
export type PriceInfo = { mode: 'fixed'; currency: 'USD'; amount: string } | { mode: 'dynamic'; currency: 'USD' }

/** What a route asks for, in the documents: v2 requirements, without `amount` when dynamic. */
export type OfferedRequirements = Omit<PaymentRequirements, 'amount'> & { amount?: string }

/** The x402 versions a paywall answers: v2 (`PAYMENT-SIGNATURE`) and v1 (`X-PAYMENT`). */
export const x402Versions = [2, 1] as const

export const priceOf = (route: ResolvedRoute): PriceInfo =>
  route.price === undefined
    ? { mode: 'dynamic', currency: 'USD' }
    : { mode: 'fixed', currency: 'USD', amount: route.price }

/**
 * The requirements a route offers, one per accepted option in the seller's order: exactly
 * those of its 402 for a fixed price; without `amount` when the price is computed per request.
 */
export function offeredRequirements(config: ResolvedPaywall, route: ResolvedRoute): OfferedRequirements[] {
  if (route.price !== undefined) return requirementsAt(config.accepts, route, route.price)
  return config.accepts.map((option) => ({
    scheme: 'exact',
    network: option.network,
    asset: option.asset.address,
    payTo: option.payTo,
    maxTimeoutSeconds: route.maxTimeoutSeconds,
    extra: { ...option.asset.eip712 },
  }))
}

/**
 * The `x-payment-info` OpenAPI extension of a priced operation. `price` and `protocols`
 * follow the shape agent tooling already reads from OpenAPI documents
 * (`{ price: { mode, currency, amount }, protocols: [{ x402: … }] }`); `accepts` adds what
 * an x402 client pays with, as v2 `PaymentRequirements` (`extra.name` is the asset's name).
 */
export function paymentInfo(config: ResolvedPaywall, route: ResolvedRoute) {
  return {
    price: priceOf(route),
    protocols: [
      {
        x402: {
          x402Versions: [...x402Versions],
          schemes: ['exact'],
          headers: { v2: 'PAYMENT-SIGNATURE', v1: 'X-PAYMENT' },
        },
      },
    ],
    accepts: offeredRequirements(config, route),
  }
}
