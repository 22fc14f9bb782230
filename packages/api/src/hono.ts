// `402x-api/hono`: Hono middleware.
export { x402Middleware } from './hono/x402Middleware.js'
