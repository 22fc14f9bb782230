import type { PaywallKeys } from '../paywall/operatorKeys.js'

/** What one admin request's handler gets. */
export type AdminRequest = {
  keys: PaywallKeys
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
