// Credits section, Express 5: `GET /api/data` with no middleware (`config.paywall` false), or
// priced at `config.price` through `x402Middleware` with a route table, the facilitator over
// HTTP at `config.facilitatorUrl` and credit on (the default), kept in `config.ledger`.
import express from 'express'
import { config, handler, paywallSettings, registerBenchNetwork, serve } from './common.js'

const app = express()
let onClose
if (config.paywall) {
  registerBenchNetwork()
  const { x402Middleware } = await import('402x-api')
  const middleware = x402Middleware({
    routes: { 'GET /api/data': { price: config.price } },
    ...paywallSettings(),
  })
  app.use(middleware)
  onClose = () => middleware.paywall.close()
}
app.get('/api/data', handler)
serve(app, onClose)
