export type { ConfigFile } from './config/resolveConfig.js'
export type { X402Middleware } from './express/x402Middleware.js'
export { x402Middleware } from './express/x402Middleware.js'
export type { SqliteLedgerOptions } from './ledger/createSqliteLedger.js'
export { createSqliteLedger } from './ledger/createSqliteLedger.js'
export type { Ledger, NewPayment, PaymentRecord, PaymentState } from './ledger/types.js'
export { captureResponse, sendWebResponse } from './node/captureResponse.js'
export { toWebRequest } from './node/nodeRequest.js'
export type { Paywall } from './paywall/createPaywall.js'
export { createPaywall } from './paywall/createPaywall.js'
export type { Locks } from './paywall/locks.js'
export { createMemoryLocks } from './paywall/locks.js'
export type {
  AssetOption,
  Decision,
  PaymentEvent,
  PaywallEvents,
  PaywallOptions,
  Price,
  RouteOptions,
} from './paywall/types.js'
