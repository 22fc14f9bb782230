import type { PaywallKeys } from '../paywall/operatorKeys.js'
import type { PaywallRuntime } from '../pipeline/runtime.js'
import { AdminInputError } from './adminHttp.js'

/** What one admin request's handler gets. */
export type AdminRequest = {
  /** `paywall.keys`; `undefined` on a paywall without `keys` (see `requireKeys`). */
  keys: PaywallKeys | undefined
  /** The paywall's settings, stores and events: the ledger, credits, `rt.events`. */
  rt: PaywallRuntime
  /** The path's parameters, in order (`/keys/:id` → `[id]`). */
  params: string[]
  url: URL
  /** The JSON body, read on demand. */
  body(): Promise<Record<string, unknown>>
  /** The asset's decimals, for amounts in atomic units. */
  decimals: number
  /** The URL callers use, for the OpenAPI document's server. */
  origin: string
}

export type AdminHandler = (request: AdminRequest) => Promise<Response>

/** A handler of the key and plan endpoints: it runs only on a paywall with `keys`. */
export type KeyedHandler = (request: AdminRequest & { keys: PaywallKeys }) => Promise<Response>

/** `handler`, answered 404 `keys_not_configured` on a paywall without `keys`. */
export function withKeys(handler: KeyedHandler): AdminHandler {
  return (request) => handler({ ...request, keys: requireKeys(request) })
}

/**
 * The paywall's keys, or a 404 `keys_not_configured` that says how to turn them on: the
 * key and plan endpoints need them, the rest of the admin API does not.
 */
export function requireKeys(request: AdminRequest): PaywallKeys {
  if (request.keys) return request.keys
  throw new AdminInputError(
    'this paywall has no API keys: pass keys: { plans: [...] } to x402Middleware() (docs/api-keys.md)',
    { status: 404, code: 'keys_not_configured' },
  )
}
