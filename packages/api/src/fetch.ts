// `402x-api/fetch`: fetch-style handlers for Bun, Deno and Cloudflare-style runtimes.

export { rateLimit } from './fetch/rateLimit.js'
export { withX402 } from './fetch/withX402.js'
export { x402Of } from './paywall/callerView.js'
