// `402x-api/fetch`: fetch-style handlers for Bun, Deno and Cloudflare-style runtimes.

export type { FetchAddressOptions } from './fetch/fetchAddress.js'
export type { FetchRateLimitOptions } from './fetch/rateLimit.js'
export { rateLimit } from './fetch/rateLimit.js'
export { withX402 } from './fetch/withX402.js'
export { x402Of } from './paywall/callerView.js'
