// Scenarios (b) and (c): 402x's x402Middleware with a route table and our in-process
// facilitator. GET /paid is priced; GET /free passes through the middleware unpriced.
import { x402Middleware } from '402x-api'
import express from 'express'
import { config, handler, registerBenchNetwork, serve } from './common.js'

registerBenchNetwork()

// Paid runs settle through our in-process facilitator. The free-route run is configured the way
// most sellers run it, with a facilitator URL (never called for a free route), so it does not
// load the facilitator's chain code.
const facilitator = config.facilitatorUrl
  ? config.facilitatorUrl
  : (await import('@402x/facilitator')).createFacilitator({
      chains: [{ network: config.network, rpcUrl: config.rpcUrl }],
      // The gas-wallet section passes a pool; every other run, the one wallet.
      gasWallets: config.gasKeys ?? [config.facilitatorKey],
    })
const middleware = x402Middleware({
  routes: { 'GET /paid': { price: config.price } },
  payTo: config.payTo,
  network: config.network,
  asset: { address: config.usdc, eip712: config.eip712 },
  facilitator,
  ledger: config.ledger,
  reconcileIntervalMs: 0,
})

const app = express()
app.use(middleware)
app.get('/free', handler)
app.get('/paid', handler)
serve(app, () => middleware.paywall.close())
