// Framework comparison, Hono on Node (`@hono/node-server`): the same routes with no
// middleware (`config.paywall` false), or behind `402x-api/hono`'s `x402Middleware` with the
// facilitator over HTTP (see common.js).
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { body, config, listen, paywallOptions, registerBenchNetwork } from './common.js'

const app = new Hono()
let onClose
if (config.paywall) {
  registerBenchNetwork()
  const { x402Middleware } = await import('402x-api/hono')
  const middleware = x402Middleware(paywallOptions())
  app.use(middleware)
  onClose = () => middleware.paywall.close()
}
for (const path of ['/paid', '/free', '/free-fn']) app.get(path, (c) => c.json(body))
listen(createAdaptorServer({ fetch: app.fetch }), onClose)
