import type { NextRequest } from 'next/server.js'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { nextAddressRules } from '../config/paywallOptionRules.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { type NextAddressOptions, nextAddressOf } from './nextAddress.js'

const made = new WeakMap<PaywallOptions, Paywall>()

/** The options of the Next.js `withX402()` and `x402NextMiddleware()`: a paywall's, and how to find the caller. */
export type NextPaywallOptions = PaywallOptions & NextAddressOptions

/**
 * The paywall for these options, made on the first request rather than at import:
 * `next build` imports route modules to collect page data, where the payment settings and
 * the ledger are not there yet. Wrappers given the same options object share one paywall
 * (one ledger connection, one set of in-flight locks) within a bundle. `ipOf` finds the
 * caller's address (nextAddress.ts).
 */
export function nextPaywall(options: NextPaywallOptions): (() => Paywall) & {
  ipOf: (request: NextRequest) => string | undefined
} {
  // The options themselves need no settings: a wrong one stops the import, and `next build`.
  const where = 'withX402() (Next.js)'
  checkPaywallOptions(options, where, nextAddressRules)
  const ipOf = nextAddressOf(options, where)
  const paywall = () => {
    let one = made.get(options)
    if (!one) {
      const { ip: _ip, trustedHops: _hops, ...paywallOptions } = options
      one = createPaywall(paywallOptions as PaywallOptions)
      made.set(options, one)
    }
    return one
  }
  return Object.assign(paywall, { ipOf })
}
