export type { ConfigFile } from './config/resolveConfig.js'
export { checkGrant, maxGrantDollars } from './credits/checkGrant.js'
export { createCreditLedger } from './credits/createCreditLedger.js'
export { issueToken } from './credits/tokens.js'
export type { CreditBalance, CreditEntry, CreditLedger } from './credits/types.js'
export type { CreateOpenApiOptions } from './discovery/createOpenApi.js'
export { createOpenApi } from './discovery/createOpenApi.js'
export type { X402Middleware } from './express/x402Middleware.js'
export { x402Credits, x402Middleware } from './express/x402Middleware.js'
export type { SqliteLedgerOptions } from './ledger/createSqliteLedger.js'
export { createSqliteLedger } from './ledger/createSqliteLedger.js'
export type { Ledger, NewPayment, PaymentRecord, PaymentState } from './ledger/types.js'
export { captureResponse, sendWebResponse } from './node/captureResponse.js'
export { toWebRequest } from './node/nodeRequest.js'
export type { HandleContext, Paywall } from './paywall/createPaywall.js'
export { createPaywall } from './paywall/createPaywall.js'
export type { Locks } from './paywall/locks.js'
export { createMemoryLocks } from './paywall/locks.js'
export type { PaywallCredits } from './paywall/operatorCredits.js'
export { PaymentRequiredError } from './paywall/paymentRequiredError.js'
export type {
  AnyRequest,
  AnyResponse,
  AssetOption,
  CreditReceipt,
  CreditsOptions,
  Decision,
  DiscoveryOptions,
  FreeTier,
  MeteredResponse,
  PayerInfo,
  PaymentEvent,
  PaymentOption,
  PaywallEvents,
  PaywallOptions,
  Price,
  PriceFunction,
  RouteOptions,
  WebRequestInfo,
} from './paywall/types.js'
export { webRequestInfo } from './paywall/webRequestInfo.js'
export type { MemoryRateLimitStoreOptions } from './ratelimit/createMemoryRateLimitStore.js'
export { createMemoryRateLimitStore } from './ratelimit/createMemoryRateLimitStore.js'
export type { RedisRateLimitStoreOptions } from './ratelimit/createRedisRateLimitStore.js'
export { createRedisRateLimitStore } from './ratelimit/createRedisRateLimitStore.js'
export type { RateLimitHeaderEntry, RateLimitHeaders } from './ratelimit/rateLimitHeaders.js'
export { rateLimitHeaders, rateLimitPolicyName } from './ratelimit/rateLimitHeaders.js'
export type { RateDecision, RateLimitStore, RatePolicy } from './ratelimit/types.js'
export { createMemoryCounters } from './stores/createMemoryCounters.js'
export { createMemoryCreditStore } from './stores/createMemoryCreditStore.js'
export { createMemoryPaymentLedger } from './stores/createMemoryPaymentLedger.js'
export { createMemorySpentProofs } from './stores/createMemorySpentProofs.js'
export type { StoreSources } from './stores/resolveStores.js'
export { resolveStores } from './stores/resolveStores.js'
export type {
  Counters,
  CreditStore,
  PaymentLedger,
  SpentProofs,
  Stores,
  StoresOptions,
  Taken,
} from './stores/types.js'
