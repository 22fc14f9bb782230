export { type ErrorCode, X402Error } from '@402x/core'
export type { ConfigFile } from './config/resolveConfig.js'
export { loadConfigSources } from './config/resolveConfig.js'
export { checkGrant, maxGrantDollars } from './credits/checkGrant.js'
export { createCreditLedger } from './credits/createCreditLedger.js'
export { createPostgresCreditStore } from './credits/createPostgresCreditStore.js'
export { issueToken } from './credits/tokens.js'
export type { CreditBalance, CreditEntry, CreditLedger } from './credits/types.js'
export type { CreateOpenApiOptions } from './discovery/createOpenApi.js'
export { createOpenApi } from './discovery/createOpenApi.js'
export type { RateLimitMiddleware } from './express/rateLimit.js'
export { rateLimit } from './express/rateLimit.js'
export type { X402Middleware } from './express/x402Middleware.js'
export { x402Credits, x402Middleware } from './express/x402Middleware.js'
export type { FieldPrice, GraphQLPricing, X402GraphQLOptions } from './graphql/options.js'
export type { X402GraphQLPlugin } from './graphql/x402GraphQL.js'
export { x402GraphQL } from './graphql/x402GraphQL.js'
export { checkPlan } from './keys/checkPlan.js'
export type { KeyLookupOptions } from './keys/createKeyLookup.js'
export { createKeyLookup } from './keys/createKeyLookup.js'
export { createMemoryKeyStore } from './keys/createMemoryKeyStore.js'
export { createMemoryUsageStore } from './keys/createMemoryUsageStore.js'
export { createPostgresKeyStore } from './keys/createPostgresKeyStore.js'
export { createPostgresUsageStore } from './keys/createPostgresUsageStore.js'
export { createSqliteKeyStore } from './keys/createSqliteKeyStore.js'
export { createSqliteUsageStore } from './keys/createSqliteUsageStore.js'
export { generateApiKey, hashApiKey, looksLikeApiKey } from './keys/generateApiKey.js'
export type { SqliteStoreOptions } from './keys/openKeysDb.js'
export type { Accept, KeysOptions } from './keys/options.js'
export { periodReset, periodsOf } from './keys/periods.js'
export { planCovers } from './keys/planCovers.js'
export { plans } from './keys/plans.js'
export type {
  ApiKeyRecord,
  KeyLookup,
  KeyLookupResult,
  KeyMode,
  KeyRefusalReason,
  KeyStore,
  NewApiKey,
  PlanDefinition,
  PlanRateLimit,
  Statement,
  UsageEvent,
  UsageStore,
} from './keys/types.js'
export { createPostgresLedger } from './ledger/createPostgresLedger.js'
export type { SqliteLedgerOptions } from './ledger/createSqliteLedger.js'
export { createSqliteLedger } from './ledger/createSqliteLedger.js'
export type { PaymentPage, PaymentQuery } from './ledger/paymentQuery.js'
export type { Ledger, NewPayment, PaymentRecord, PaymentState } from './ledger/types.js'
export type { CreditToolOptions } from './mcp/creditTool.js'
export { creditTool } from './mcp/creditTool.js'
export { metaKeys as mcpMetaKeys } from './mcp/metaKeys.js'
export type { PaidToolOptions, ToolCall } from './mcp/paidTool.js'
export { paidTool } from './mcp/paidTool.js'
export { captureResponse, sendWebResponse } from './node/captureResponse.js'
export { toWebRequest } from './node/nodeRequest.js'
export { redactedPaths } from './observe/createLogger.js'
export type { LoggerOption, MetricsOptions } from './observe/options.js'
export type { X402Caller } from './paywall/callerView.js'
export { x402Of } from './paywall/callerView.js'
export type { HandleContext, Paywall } from './paywall/createPaywall.js'
export { createPaywall } from './paywall/createPaywall.js'
export type { Locks } from './paywall/locks.js'
export { createMemoryLocks } from './paywall/locks.js'
export type { PaywallCredits } from './paywall/operatorCredits.js'
export type { KeyInfo, KeyRevocation, PaywallKeys } from './paywall/operatorKeys.js'
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
  RequestEvent,
  RouteOptions,
  WebRequestInfo,
} from './paywall/types.js'
export { webRequestInfo } from './paywall/webRequestInfo.js'
export type { Migrated, Migration, SchemaComponent } from './postgres/migrate.js'
export { isPostgresUrl } from './postgres/openPostgres.js'
export { allSchemas, migrateDatabase, schemaVersions } from './postgres/schemas.js'
export { callerIp } from './ratelimit/callerIp.js'
export type { MemoryRateLimitStoreOptions } from './ratelimit/createMemoryRateLimitStore.js'
export { createMemoryRateLimitStore } from './ratelimit/createMemoryRateLimitStore.js'
export type {
  PostgresRateLimitStore,
  PostgresRateLimitStoreOptions,
} from './ratelimit/createPostgresRateLimitStore.js'
export { createPostgresRateLimitStore } from './ratelimit/createPostgresRateLimitStore.js'
export type { RateLimiter } from './ratelimit/createRateLimiter.js'
export type { RedisRateLimitStoreOptions } from './ratelimit/createRedisRateLimitStore.js'
export { createRedisRateLimitStore } from './ratelimit/createRedisRateLimitStore.js'
export type { RateLimitBy, RateLimitOptions } from './ratelimit/options.js'
export type { RateLimitHeaderEntry, RateLimitHeaders } from './ratelimit/rateLimitHeaders.js'
export { rateLimitHeaders, rateLimitPolicyName } from './ratelimit/rateLimitHeaders.js'
export type { RateDecision, RateLimitStore, RatePolicy } from './ratelimit/types.js'
export type { RedisStoreOptions } from './redis/openRedisClient.js'
export { createMemoryCounters } from './stores/createMemoryCounters.js'
export { createMemoryCreditStore } from './stores/createMemoryCreditStore.js'
export { createMemoryPaymentLedger } from './stores/createMemoryPaymentLedger.js'
export { createMemorySpentProofs } from './stores/createMemorySpentProofs.js'
export { createPostgresCounters } from './stores/createPostgresCounters.js'
export { createPostgresLocks } from './stores/createPostgresLocks.js'
export { createPostgresSpentProofs } from './stores/createPostgresSpentProofs.js'
export { createRedisCounters } from './stores/createRedisCounters.js'
export { createRedisLocks } from './stores/createRedisLocks.js'
export { createRedisSpentProofs } from './stores/createRedisSpentProofs.js'
export type { Backends } from './stores/pickBackends.js'
export { pickBackends } from './stores/pickBackends.js'
export type { StoreSources } from './stores/resolveStores.js'
export { resolveStores } from './stores/resolveStores.js'
export type { SqliteMigration, SqliteSchemaComponent } from './stores/sqliteSchema.js'
export { allSqliteSchemas, migrateSqliteDatabase, sqliteSchemaVersions } from './stores/sqliteSchemas.js'
export type {
  Counters,
  CreditStore,
  PaymentLedger,
  SpentProofs,
  Stores,
  StoresOptions,
  Taken,
} from './stores/types.js'
export { generateWebhookSecret, signWebhook } from './webhooks/signWebhook.js'
export type {
  Delivery,
  DeliveryStatus,
  OutboxEvent,
  WebhookDeliveryOptions,
  WebhookEventType,
  WebhookOptions,
  WebhookOutbox,
} from './webhooks/types.js'
export { webhookEventTypes } from './webhooks/types.js'
export type { RefusedWebhook, VerifiedWebhook, VerifyWebhookInput } from './webhooks/verifyWebhook.js'
export { verifyWebhook } from './webhooks/verifyWebhook.js'
export type { VerifyClient, X402WebSocket } from './websocket/createX402WebSocket.js'
export { createX402WebSocket } from './websocket/createX402WebSocket.js'
export type {
  PaidVia,
  SocketMeterView,
  TopUpOffer,
  WebSocketBilling,
  WebSocketNotice,
  WebSocketPayment,
  X402WebSocketOptions,
} from './websocket/types.js'
export { paymentCloseCode } from './websocket/types.js'
export { wsCredentials, x402Protocol } from './websocket/upgradeHead.js'
export { webSocketOptionsFromEnv, x402WebSocket } from './websocket/x402WebSocket.js'
