// Framework comparison, Express 5: the same routes with no middleware (`config.paywall`
// false), or behind `x402Middleware` with the facilitator over HTTP (see common.js).
import express from 'express'
import { config, handler, paywallOptions, registerBenchNetwork, serve } from './common.js'

const app = express()
let onClose
if (config.paywall) {
  registerBenchNetwork()
  const { x402Middleware } = await import('402x-api')
  const middleware = x402Middleware(paywallOptions())
  app.use(middleware)
  onClose = () => middleware.paywall.close()
}
for (const path of ['/paid', '/free', '/free-fn']) app.get(path, handler)
serve(app, onClose)
