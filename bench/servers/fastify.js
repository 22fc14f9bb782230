// Framework comparison, Fastify 5: the same routes with no middleware (`config.paywall`
// false), or behind the `402x-api/fastify` plugin with the facilitator over HTTP (see
// common.js). Fastify runs on a plain `http` server (`serverFactory`) so that every
// framework listens the same way.
import { createServer } from 'node:http'
import Fastify from 'fastify'
import { body, config, listen, paywallOptions, registerBenchNetwork } from './common.js'

let server
const app = Fastify({
  serverFactory: (handler) => {
    server = createServer(handler)
    return server
  },
})
let onClose
if (config.paywall) {
  registerBenchNetwork()
  const { x402Fastify } = await import('402x-api/fastify')
  await app.register(x402Fastify, paywallOptions())
  onClose = () => app.paywall.close()
}
for (const path of ['/paid', '/free', '/free-fn']) app.get(path, async () => body)
await app.ready()
listen(server, onClose)
