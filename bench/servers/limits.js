// Limits section, Express 5: `GET /free` behind the standalone `rateLimit()` (`config.kind`
// 'rateLimit'), or `GET /keyed` for API keys only (`accept: ['key']`) behind `x402Middleware`
// with one tiered plan (`config.kind` 'keys'). Counts in this process, or in Redis at
// `config.redisUrl`. The limits never trip: every request is served. The key is created
// before listening and handed to the parent in the ready message.
import { plans, rateLimit, x402Middleware } from '402x-api'
import express from 'express'
import { config, handler, serve } from './common.js'

// A memory scenario counts in this process even where the environment names a Redis.
if (!config.redisUrl) delete process.env.X402_REDIS_URL

const app = express()
if (config.kind === 'rateLimit') {
  const limiter = rateLimit({
    maxRequests: config.maxRequests,
    windowMs: 60_000,
    // The run's own counts in Redis, removed after it.
    prefix: `${config.runId}:free`,
    ...(config.redisUrl ? { store: config.redisUrl } : {}),
    // An outage answers 503 (a failed request) instead of serving uncounted.
    onStoreError: 'fail-closed',
  })
  app.get('/free', limiter, handler)
  serve(app, () => limiter.limiter.close())
} else if (config.kind === 'keys') {
  // The plan's name is in its counters' keys (`plan:<name>:0:…`): unique to the run.
  const plan = config.runId
  const middleware = x402Middleware({
    routes: { 'GET /keyed': { price: 0.01, accept: ['key'] } },
    keys: { plans: [plans.tiered({ name: plan, monthly: config.maxRequests, perMinute: config.maxRequests })] },
    ...(config.redisUrl ? { stores: { rateLimits: config.redisUrl } } : {}),
    // Base Sepolia's USDC: nothing here is paid, and the facilitator is never called.
    payTo: '0x000000000000000000000000000000000000dEaD',
    network: 'eip155:84532',
    facilitator: 'http://127.0.0.1:9',
    ledger: config.ledger,
    reconcileIntervalMs: 0,
  })
  const { key } = await middleware.paywall.keys.create({ name: 'bench', plan })
  app.use(middleware)
  app.get('/keyed', handler)
  serve(app, () => middleware.paywall.close(), { key })
} else {
  throw new Error(`unknown kind "${config.kind}": rateLimit or keys`)
}
