// `402x-api/next`: Next.js App Router route handlers, and the middleware (proxy) in front of them.

export type { NextAddressOptions } from './next/nextAddress.js'
export type { NextPaywallOptions } from './next/nextPaywall.js'
export type { NextRateLimitOptions } from './next/rateLimit.js'
export { rateLimit } from './next/rateLimit.js'
export { withX402 } from './next/withX402.js'
export { x402NextMiddleware } from './next/x402NextMiddleware.js'
export { x402Of } from './paywall/callerView.js'
