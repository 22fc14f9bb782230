// `402x-api/fastify`: a Fastify plugin with hooks.

export { rateLimit } from './fastify/rateLimit.js'
export { x402Fastify } from './fastify/x402Fastify.js'
