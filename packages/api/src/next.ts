// `402x-api/next`: Next.js App Router route handlers, and the middleware (proxy) in front of them.

export { rateLimit } from './next/rateLimit.js'
export { withX402 } from './next/withX402.js'
export { x402NextMiddleware } from './next/x402NextMiddleware.js'
export { x402Of } from './paywall/callerView.js'
