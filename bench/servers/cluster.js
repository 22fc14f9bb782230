// Cluster section (issue 18), Express 5: one instance of a seller, embedded (SQLite ledger,
// the rest in this process) or on PostgreSQL and Redis (`config.databaseUrl`,
// `config.redisUrl`, as `stores: { databaseUrl, redisUrl }`). Its routes:
// - `GET /free`: registered before the middleware, the unpaid baseline of the same process;
// - `GET /paid`: paid `exact` at `config.price` (the facilitator over HTTP at `config.facilitatorUrl`);
// - `GET /credit`: the same, at `config.creditPrice`, drawn from credit with a Bearer token;
// - `GET /keyed`: API keys only, on a tiered plan named `config.runId` whose limits never trip;
// - `GET /limited`: free, behind the standalone `rateLimit()` (`config.maxRequests` a minute),
//   counting in the same Redis (one client per URL in the process) or in this process.
// With `config.createKey`, a key on the plan is created before listening and sent in the ready message.
import { plans, rateLimit, x402Middleware } from '402x-api'
import express from 'express'
import { config, handler, paywallSettings, registerBenchNetwork, serve } from './common.js'

// Only what the parent passes chooses the stores: not an X402_* of the environment.
delete process.env.X402_DATABASE_URL
delete process.env.X402_REDIS_URL
registerBenchNetwork()

const plan = config.runId
const networked = config.databaseUrl ? { stores: { databaseUrl: config.databaseUrl, redisUrl: config.redisUrl } } : {}
const middleware = x402Middleware({
  routes: {
    'GET /paid': { price: config.price, accept: ['x402'] },
    'GET /credit': { price: config.creditPrice, accept: ['credits'] },
    'GET /keyed': { price: config.price, accept: ['key'] },
  },
  keys: { plans: [plans.tiered({ name: plan, monthly: config.maxRequests, perMinute: config.maxRequests })] },
  // Embedded: the ledger is the SQLite file `config.ledger`; networked, none is passed: PostgreSQL's.
  ...paywallSettings(),
  ...networked,
})

const limiter = rateLimit({
  maxRequests: config.maxRequests,
  windowMs: 60_000,
  // The run's own counts in Redis, removed after it.
  prefix: `${config.runId}:limited`,
  ...(config.redisUrl ? { store: config.redisUrl } : {}),
  onStoreError: 'fail-closed',
})

const app = express()
app.get('/free', handler)
app.get('/limited', limiter, handler)
app.use(middleware)
for (const path of ['/paid', '/credit', '/keyed']) app.get(path, handler)
const ready = config.createKey ? { key: (await middleware.paywall.keys.create({ name: 'bench', plan })).key } : {}
serve(
  app,
  async () => {
    await limiter.limiter.close()
    await middleware.paywall.close()
  },
  ready,
)
