// `402x-api/fastify`: a Fastify plugin with hooks.
export { x402Fastify } from './fastify/x402Fastify.js'
