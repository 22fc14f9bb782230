import type { KeyStore, PlanDefinition, UsageStore } from './types.js'

/**
 * API keys on a paywall (docs/api-keys.md): a caller with a key uses its plan; a caller
 * without one pays per call (x402 or credit), where the route accepts it.
 *
 * @example
 * x402Middleware({ routes, keys: { plans: [plans.free(), plans.payAsYouGo(), plans.tiered({ name: 'pro', monthly: 50_000 })] } })
 */
export type KeysOptions = {
  /** The plans keys can be on (presets: `plans.free()` …); more can be put with the admin API. */
  plans: PlanDefinition[]
  /** Where keys live: a store object, a SQLite file, or a PostgreSQL URL. @default the payments ledger's database (PostgreSQL), else its file */
  store?: KeyStore | string
  /** Where usage events live: a store object, a SQLite file, or a PostgreSQL URL. @default the payments ledger's database (PostgreSQL), else its file */
  usage?: UsageStore | string
  /** The header a key is read from besides `Authorization: Bearer x402_…`. @default 'x-api-key' */
  header?: string
}

/** How a route may be paid for: a single x402 payment, credit, or an API key's plan. */
export type Accept = 'x402' | 'credits' | 'key'
