// Dashboard section: `GET /api/data` priced at `config.price` through `x402Middleware` (credit
// on, the facilitator over HTTP), with the admin token `config.adminToken`, so that the parent
// can open the dashboard's live stream (`/__402x/admin/live`) against the same server.
import { x402Middleware } from '402x-api'
import express from 'express'
import { config, handler, paywallSettings, registerBenchNetwork, serve } from './common.js'

registerBenchNetwork()
const middleware = x402Middleware({
  routes: { 'GET /api/data': { price: config.price } },
  ...paywallSettings(),
  adminToken: config.adminToken,
})
const app = express()
app.use(middleware)
app.get('/api/data', handler)
serve(app, () => middleware.paywall.close())
