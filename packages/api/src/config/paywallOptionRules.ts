import { type OptionRule, type OptionShape, rule } from '@402x/core'
import type { FetchAddressOptions } from '../fetch/fetchAddress.js'
import type { KeysOptions } from '../keys/options.js'
import type { NextAddressOptions } from '../next/nextAddress.js'
import type { MetricsOptions } from '../observe/options.js'
import type {
  CommonOptions,
  CreditsOptions,
  DiscoveryOptions,
  FreeTier,
  PaymentOption,
  RouteOptions,
} from '../paywall/types.js'
import type { PortalOptions } from '../portal/portalOptions.js'
import type { RateLimitOptions } from '../ratelimit/options.js'
import type { StoresOptions } from '../stores/types.js'
import type { WebhookDeliveryOptions, WebhookOptions } from '../webhooks/types.js'

// The known keys of every object a seller writes, one list per type. Each list `satisfies`
// a record of its type's keys: a key added to the type and not here (or here and not in the
// type) fails the type check, so no option can be read without being known, or known
// without being read.

const dollars = 'a price in dollars: 0.01, "0.01", "$0.01" or "0.01 USDC"'
const price = rule.either(dollars, rule.number(), rule.string())
const priceOrFunction = rule.either(`${dollars}, or (req, user) => price`, price, rule.function())
const fn = (what: string) => rule.function(`a function: ${what}`)
const bool = rule.boolean()
const text = rule.string()
const wholeIn = (min: number, max: number, expect: string): OptionRule => ({
  expect,
  test: (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
})
const positiveMs = (example: string): OptionRule => ({
  expect: `a number of milliseconds above 0, e.g. ${example}`,
  test: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v),
})
const object = (expect: string): OptionRule => ({
  expect,
  test: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
})

// The facilitator refuses an authorization that expires within 6 s (`validBeforeMargin`):
// below 10 s a payer could not sign, send and be verified in time.
const lowerBound = 'from 10 s (the facilitator needs validBefore ≥ now + 6 s, and the payer time to sign and send)'

/** `free: { requests, windowMs, by, keyHeader }`. */
export const freeTierRules = {
  requests: wholeIn(0, Number.MAX_SAFE_INTEGER, 'a whole number of free requests per window, e.g. 100'),
  windowMs: positiveMs('86400000 for a day'),
  by: rule.either(
    "'ip', 'key', 'payer' or (req) => id",
    rule.oneOf('ip', 'key', 'payer'),
    fn('(req) => id | undefined'),
  ),
  keyHeader: rule.string('a header name, e.g. "x-api-key"'),
} as const satisfies Record<keyof FreeTier, OptionRule>

/** `rateLimit: { … }` (what the fields mean together is checked by `resolveRateLimit`). */
export const rateLimitRules = {
  maxRequests: wholeIn(1, Number.MAX_SAFE_INTEGER, 'a whole number of requests per window, e.g. 100'),
  windowMs: wholeIn(1, Number.MAX_SAFE_INTEGER, 'a number of milliseconds, e.g. 60000 for a minute'),
  message: text,
  algorithm: rule.oneOf('sliding-window', 'fixed-window', 'token-bucket'),
  capacity: wholeIn(1, Number.MAX_SAFE_INTEGER, 'a whole number of tokens, e.g. 20'),
  refillPerSecond: {
    expect: 'tokens per second above 0, e.g. 5',
    test: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v),
  },
  cost: fn('(req) => units'),
  by: rule.either(
    "'ip', 'key', 'token', 'payer' or (req) => id",
    rule.oneOf('ip', 'key', 'token', 'payer'),
    fn('(req) => id | undefined'),
  ),
  ipv6Subnet: rule.either('a prefix length from 8 to 128, or false', rule.number(), rule.oneOf(false)),
  countRejected: bool,
  onStoreError: rule.oneOf('fail-closed', 'fail-open'),
  store: rule.either('a redis:// URL, or a store object', rule.string(), object('a store object')),
  prefix: text,
  name: text,
  keyHeader: rule.string('a header name, e.g. "x-api-key"'),
} as const satisfies Record<keyof RateLimitOptions, OptionRule>

/** One priced route: the options of `x402Middleware({ price })` and of each `routes` entry. */
export const routeRules = {
  price: priceOrFunction,
  pricePerMinute: price,
  calculateMinutes: fn('(req) => minutes'),
  validate: fn('(req) => { throw … } on a bad request'),
  free: rule.object(freeTierRules, 'an object: { requests: 100, windowMs: 86400000 }'),
  skip: fn('(req) => true to serve free'),
  description: text,
  mimeType: rule.string('a MIME type, e.g. "application/json"'),
  maxTimeoutSeconds: wholeIn(10, 86_400, `a whole number of seconds ${lowerBound} to 86400 (a day), e.g. 60`),
  nonceExpiry: {
    expect: `a number of milliseconds, a whole number of seconds ${lowerBound} to a day: 10000 to 86400000, e.g. 60000 for a minute`,
    test: (v) =>
      Number.isInteger(v) && (v as number) % 1000 === 0 && (v as number) >= 10_000 && (v as number) <= 86_400_000,
  },
  verifyNonce: {
    expect:
      'true, or leave it out: replays are always refused (each signed payment pays once), and that cannot be turned off',
    test: (v) => v === true,
  },
  accept: rule.array(rule.oneOf('x402', 'credits', 'key'), "an array of 'x402', 'credits' and 'key'"),
  rateLimit: rule.either(
    'an object: { maxRequests: 100, windowMs: 60000 }, or an array of them',
    rule.object(rateLimitRules),
    rule.array(rule.object(rateLimitRules)),
  ),
  pricePerToken: price,
  countTokens: fn('(response) => tokens'),
  pricePerSecond: price,
  trackTime: bool,
  trackExecutionTime: bool,
  countItems: fn('(response) => items'),
  meterResponse: fn('(res) => units'),
  meterWhole: bool,
  max: price,
  // Its value is checked by `resolveMeter`, which names the route.
  overMax: rule.string("'refuse' (the default) or 'cap'"),
  missingUsage: rule.string("'estimate' (the default) or 'max'"),
} as const satisfies Record<keyof RouteOptions, OptionRule>

const creditsTopUp = { min: price, max: price, suggested: price } as const satisfies Record<
  keyof NonNullable<CreditsOptions['topUp']>,
  OptionRule
>

/** `credits: { … }`. */
export const creditsRules = {
  path: rule.string('a SQLite file path or a postgres:// URL (a store object goes in stores.credits)'),
  topUp: rule.object(creditsTopUp, 'an object: { min: 0.01, suggested: 1, max: 1000 }'),
  refund: rule.oneOf('credit', 'onchain'),
  refundKey: rule.string("the payTo wallet's private key, 0x…"),
  rpcUrl: rule.string('a JSON-RPC URL'),
  reservationTtlMs: positiveMs('600000'),
} as const satisfies Record<keyof CreditsOptions, OptionRule>

const storeObject = (what: string) => object(`a store object (${what})`)
const pathOrStore = (what: string) =>
  rule.either(`a SQLite file path, a postgres:// URL, or a store object (${what})`, rule.string(), storeObject(what))

/** `stores: { … }`. */
export const storesRules = {
  databaseUrl: rule.string('a postgres:// URL (or a SQLite file path)'),
  redisUrl: rule.string('a redis:// URL'),
  ledger: pathOrStore('a PaymentLedger'),
  credits: pathOrStore('a CreditStore'),
  locks: storeObject('{ acquire, release }'),
  spentProofs: storeObject('{ spend }'),
  counters: storeObject('{ take }'),
  rateLimits: rule.either(
    'a redis:// URL, or a store object ({ consume, refund, close })',
    rule.string(),
    storeObject('{ consume, refund, close }'),
  ),
} as const satisfies Record<keyof StoresOptions, OptionRule>

/** `discovery: { … }`. */
export const discoveryRules = {
  openapiPath: rule.either('a path, e.g. "/openapi.json", or false', rule.string(), rule.oneOf(false)),
  manifestPath: rule.either('a path, e.g. "/.well-known/x402", or false', rule.string(), rule.oneOf(false)),
  openapi: object('an OpenAPI 3.x document (an object)'),
  title: text,
  version: text,
} as const satisfies Record<keyof DiscoveryOptions, OptionRule>

const assetRule = rule.either(
  'a token address, or { address, eip712: { name, version }, decimals? }',
  rule.string(),
  rule.object({
    address: rule.string('a token address, 0x…'),
    eip712: rule.object({ name: text, version: text }, "the token's EIP-712 domain: { name, version }"),
    decimals: wholeIn(0, 36, 'a whole number of decimals, e.g. 6'),
  }),
)

const paymentOptionRules = {
  network: rule.string('a CAIP-2 network, e.g. "eip155:8453"'),
  asset: assetRule,
  payTo: rule.string('an address, 0x…'),
} as const satisfies Record<keyof PaymentOption, OptionRule>

/** `keys: { … }` (each plan is checked by `checkPlan`). */
export const keysRules = {
  plans: rule.array(
    object('a plan: plans.free(), plans.payAsYouGo(), plans.tiered({ monthly })'),
    'an array of plans, e.g. [plans.free()]',
  ),
  store: pathOrStore('a KeyStore'),
  usage: pathOrStore('a UsageStore'),
  header: rule.string('a header name, e.g. "x-api-key"'),
} as const satisfies Record<keyof KeysOptions, OptionRule>

/** `metrics: { token, registry }`. */
export const metricsRules = {
  token: rule.string('a bearer token for the scrape, e.g. process.env.X402_METRICS_TOKEN'),
  registry: object('a prom-client Registry (new Registry())'),
} as const satisfies Record<keyof MetricsOptions, OptionRule>
/** One entry of `webhooks` (its URL, events and secret are checked by `resolveWebhooks`). */
export const webhookRules = {
  url: rule.string('a URL, e.g. "https://example.com/hooks"'),
  events: rule.array(rule.string(), "an array of event types, e.g. ['payment.settled'] or ['*']"),
  secret: rule.string('a whsec_… secret, e.g. process.env.X402_WEBHOOK_SECRET'),
} as const satisfies Record<keyof WebhookOptions, OptionRule>

/** `webhookDelivery: { … }`. */
export const webhookDeliveryRules = {
  pollIntervalMs: positiveMs('1000'),
  timeoutMs: positiveMs('10000'),
  initialBackoffMs: positiveMs('5000'),
  maxBackoffMs: positiveMs('3600000'),
  retryForMs: positiveMs('86400000 for a day'),
} as const satisfies Record<keyof WebhookDeliveryOptions, OptionRule>

/** `portal: { … }` (what the values mean together is checked by `resolvePortal`). */
export const portalRules = {
  selfServiceKeys: rule.object(
    { plans: rule.array(rule.string('a plan name'), "an array of plan names, e.g. ['free']") },
    "an object: { plans: ['free'] }",
  ),
  sessionTtlMs: wholeIn(60_000, 86_400_000, 'a whole number of ms from 60000 to 86400000, e.g. 3600000 for an hour'),
  sessionSecret: rule.string('at least 32 random characters, e.g. process.env.X402_PORTAL_SECRET'),
} as const satisfies Record<keyof PortalOptions, OptionRule>

/** The options of a paywall that are not a route's. */
export const commonRules = {
  payTo: rule.string('the 0x… address that receives payments'),
  network: rule.string('a CAIP-2 network, e.g. "eip155:8453"'),
  asset: assetRule,
  facilitator: rule.either(
    'a URL, or a facilitator object (createFacilitator(…), createFacilitatorClient(…))',
    rule.string(),
    object('an object'),
  ),
  ledger: rule.either('a SQLite file path, or a ledger object', rule.string(), object('an object')),
  locks: object('a locks object ({ acquire, release })'),
  stores: rule.object(
    storesRules,
    'an object: { databaseUrl, redisUrl, ledger, credits, locks, spentProofs, counters, rateLimits }',
  ),
  accepts: rule.array(rule.object(paymentOptionRules), 'an array of { network, asset?, payTo? }'),
  errors: rule.oneOf('respond', 'next'),
  discovery: rule.either('an object, or false', rule.object(discoveryRules), rule.oneOf(false)),
  onPayment: fn('(payment) => void'),
  reconcileIntervalMs: wholeIn(0, Number.MAX_SAFE_INTEGER, 'a number of milliseconds, 0 to turn it off'),
  credits: rule.either('an object, or false', rule.object(creditsRules), rule.oneOf(false)),
  publicUrl: rule.string('the URL callers use, e.g. "https://api.example.com"'),
  keys: rule.object(keysRules, 'an object: { plans: [plans.free()] }'),
  trackingHeaders: bool,
  adminToken: rule.string("the admin API's bearer token, e.g. process.env.X402_ADMIN_TOKEN"),
  metrics: rule.either('an object ({ token, registry }), or false', rule.object(metricsRules), rule.oneOf(false)),
  logger: rule.either('a pino logger (pino()), true or false', bool, object('a pino logger')),
  portal: rule.either('an object, or false', rule.object(portalRules), rule.oneOf(false)),
  webhooks: rule.array(
    rule.object(webhookRules, "a webhook: { url: 'https://…', events: ['payment.settled'], secret: 'whsec_…' }"),
    "an array of webhooks: [{ url: 'https://…', events: ['payment.settled'], secret: 'whsec_…' }]",
  ),
  webhookDelivery: rule.object(webhookDeliveryRules, 'an object: { timeoutMs: 10000 }'),
} as const satisfies Record<keyof CommonOptions, OptionRule>

/** The fetch adapter's own option (`withX402()` and `rateLimit()` of `402x-api/fetch`). */
export const fetchAddressRules = {
  ip: fn("(request, ...rest) => the caller's address, or undefined"),
} as const satisfies Record<keyof FetchAddressOptions, OptionRule>

/** The Next.js adapter's own options (`withX402()`, `x402NextMiddleware()`, `rateLimit()`). */
export const nextAddressRules = {
  ip: fn("(request) => the caller's address, or undefined"),
  trustedHops: wholeIn(0, 64, 'a whole number of proxies in front of Next that append to X-Forwarded-For, e.g. 1'),
} as const satisfies Record<keyof NextAddressOptions, OptionRule>

/** An entry of `routes`: a price, or a route's options. */
export const routeEntryRule = rule.either(
  `${dollars}, or a route's options: { price: 0.01 }`,
  price,
  rule.object(routeRules),
)

/** Every key `x402Middleware()` takes. */
export const paywallRules: OptionShape = {
  ...commonRules,
  ...routeRules,
  routes: rule.record(routeEntryRule, "an object: { 'GET /api/market/:symbol': 0.001 }"),
}
