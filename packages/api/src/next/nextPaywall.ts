import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'

const made = new WeakMap<PaywallOptions, Paywall>()

/**
 * The paywall for these options, made on the first request rather than at import:
 * `next build` imports route modules to collect page data, where the payment settings and
 * the ledger are not there yet. Wrappers given the same options object share one paywall
 * (one ledger connection, one set of in-flight locks) within a bundle.
 */
export function nextPaywall(options: PaywallOptions): () => Paywall {
  // The options themselves need no settings: a wrong one stops the import, and `next build`.
  checkPaywallOptions(options, 'withX402() (Next.js)')
  return () => {
    let paywall = made.get(options)
    if (!paywall) {
      paywall = createPaywall(options)
      made.set(options, paywall)
    }
    return paywall
  }
}
