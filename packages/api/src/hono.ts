// `402x-api/hono`: Hono middleware.

export { rateLimit } from './hono/rateLimit.js'
export { x402Middleware } from './hono/x402Middleware.js'
