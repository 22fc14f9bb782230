// Seed 000's "Pricing Strategies" and "Advanced Features" samples, one route each, on one
// Express app. Run `npm start` (402x dev), then `node examples/pricing-strategies/server.js`
// from the same folder. GET / lists the routes.

import { x402Middleware } from '402x-api'
import express from 'express'

const app = express()
app.use(express.json())
const answer = (req, res) => res.json({ ok: true, route: req.path })

// Cost-plus: what the request costs to compute, plus 50%.
// A stand-in for a cost model: $0.00002 of GPU time per token asked for (256 by default).
const estimateComputeCost = (req) => (req.body?.maxTokens ?? 256) * 0.00002
app.post(
  '/api/cost-plus',
  x402Middleware({
    price: (req) => {
      const computeCost = estimateComputeCost(req)
      const margin = 1.5 // 50% markup
      return computeCost * margin
    },
  }),
  answer,
)

// Value-based: the accurate model is worth more than the fast one.
app.post('/api/models/accurate', x402Middleware({ price: 0.1 }), answer) // High-accuracy AI model
app.post('/api/models/fast', x402Middleware({ price: 0.01 }), answer) // Fast but less accurate model

// Tiered volume discounts, from the payer's settled payments this month (read from the
// ledger; an unpaid request that does not name its payer with `X-402x-Payer` is quoted the
// list price).
app.get(
  '/api/tiered',
  x402Middleware({
    // Two parameters: the paywall reads the payer's history only for a price function that takes `user`.
    // biome-ignore lint/correctness/noUnusedFunctionParameters: the seed's sample, as written
    price: (req, user) => {
      if (user.monthlyRequests > 10000) return 0.005
      if (user.monthlyRequests > 1000) return 0.008
      return 0.01
    },
  }),
  answer,
)

// Time-based: peak hours (9:00 to 17:59, the server's local time) cost double.
app.get(
  '/api/time-based',
  x402Middleware({
    price: () => {
      const hour = new Date().getHours()
      return hour >= 9 && hour <= 17 ? 0.02 : 0.01
    },
  }),
  answer,
)

// Request validation: a throw answers 400 with its message, before any payment is asked.
app.post(
  '/api/validated',
  x402Middleware({
    price: 0.01,
    validate: (req) => {
      if (!req.body.prompt) throw new Error('Prompt required')
      if (req.body.prompt.length > 1000) throw new Error('Prompt too long')
    },
  }),
  answer,
)

// Free tier + paid tier: 3 free requests a day per IP address, or 2 per API key (X-API-Key).
const day = 24 * 60 * 60 * 1000
app.get('/api/free/ip', x402Middleware({ price: 0.01, free: { requests: 3, windowMs: day, by: 'ip' } }), answer)
app.get('/api/free/key', x402Middleware({ price: 0.01, free: { requests: 2, windowMs: day, by: 'key' } }), answer)

// Conditional middleware: subscribers (a known X-API-Key) are served free, everyone else pays.
const subscribers = new Set(['sub_demo_123'])
app.get(
  '/api/conditional',
  x402Middleware({ price: 0.01, skip: (req) => subscribers.has(req.get('x-api-key')) }),
  answer,
)

// Webhook notifications: onPayment runs once per settled payment.
// A stand-in for an analytics client; GET /analytics shows what it tracked.
const tracked = []
const analytics = { track: (event, payment) => tracked.push({ event, ...payment, amount: String(payment.amount) }) }
app.get(
  '/api/notified',
  x402Middleware({
    price: 0.01,
    onPayment: (payment) => {
      // Notify your system
      analytics.track('api_payment', payment)
    },
  }),
  answer,
)
app.get('/analytics', (_req, res) => res.json({ tracked }))

// Error handling: with errors: 'next', a 402 goes to Express's error handler as an error with
// code 'PAYMENT_REQUIRED', price and address (the PAYMENT-REQUIRED header is already set, so
// x402 clients can still pay).
app.get('/api/custom/report', x402Middleware({ price: 0.01, errors: 'next' }), answer)

app.get('/', (_req, res) => {
  const routes = app.router.stack.filter((layer) => layer.route).map((layer) => layer.route.path)
  res.json({ name: 'pricing strategies example', routes })
})

// The seed writes `app.use('/api/*', …)`: Express 5 names its wildcards, so it is '/api/*splat'.
// biome-ignore lint/correctness/noUnusedFunctionParameters: the seed's sample, as written
app.use('/api/*splat', (err, req, res, next) => {
  if (err.code === 'PAYMENT_REQUIRED') {
    res.status(402).json({
      error: 'Payment required',
      price: err.price,
      paymentAddress: err.address,
    })
  } else next(err) // Not in the seed: any other error goes on to Express's default handler.
})

const server = app.listen(Number(process.env.PORT ?? 3006), (error) => {
  if (error) throw error
  console.log(`pricing strategies example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
