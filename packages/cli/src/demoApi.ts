import type { PaywallKeys, PaywallOptions } from '402x-api'
import { createPaywall, plans, x402Credits, x402Middleware } from '402x-api'
import { decisionService } from '402x-api/gateway'
import express from 'express'

/** The demo API's priced endpoints, from seed 000. */
export const demoEndpoints = [
  { method: 'POST', path: '/api/generate', price: '0.01', description: 'Text generation' },
  { method: 'GET', path: '/api/market/:symbol', price: '0.001', description: 'Real-time market data' },
  { method: 'POST', path: '/api/translate', price: '0.02', description: 'Translation' },
  { method: 'POST', path: '/api/image', price: 'width × height × steps / 1e6', description: 'Image generation' },
  {
    method: 'POST',
    path: '/api/complete',
    price: '0.00015 per output token, at most 0.015',
    description: 'Text completion',
  },
] as const

/** The demo route that takes an API key (and x402, and credit): its plans are {@link demoPlans}. */
export const demoKeyedEndpoint = {
  method: 'GET',
  path: '/api/keyed/quote',
  price: '0.001',
  description: 'Market quote: an API key, x402 or credit',
} as const

/** The plans of the demo's keys: free, pay-as-you-go (from the key's credit), pro (tiered). */
export const demoPlans = () => [plans.free(), plans.payAsYouGo(), plans.tiered({ name: 'pro', monthly: 50_000 })]

type Settings = Omit<PaywallOptions, 'price' | 'routes'>

/** The most tokens `/api/complete` answers with: its max, $0.015 at $0.00015 a token. */
const completionMaxTokens = 100

const quotes: Record<string, number> = { BTC: 97_250.5, ETH: 3_412.25, SOL: 187.4, USDC: 1 }
const greetings: Record<string, Record<string, string>> = {
  'Hello, world!': { es: '¡Hola, mundo!', fr: 'Bonjour, le monde !', de: 'Hallo, Welt!' },
}

/**
 * The demo paid API that `402x dev` serves: the seed's samples, written as the seed writes
 * them, and one route that takes API keys (`keys`: the operator's side of them, with the
 * admin API at `/__402x/admin`).
 */
export function createDemoApi(settings: Settings): ReturnType<typeof express> & { keys: PaywallKeys } {
  const app = express()
  // The decision service (docs/decision-service.md), for app servers in other languages
  // (python/): before the JSON parser, which would read its body.
  const decisions = decisionService(createPaywall({ ...settings, routes: {} }))
  app.use((req, res, next) => {
    if (!decisions.handle(req, res)) next()
  })
  app.use(express.json())

  app.get('/', (_req, res) => {
    res.json({
      name: '402x demo API',
      endpoints: demoEndpoints.map((e) => ({ ...e, currency: 'USDC' })),
      pay: 'npx 402x pay <url> (uses the funded buyer of the running 402x dev)',
    })
  })
  app.get('/health', (_req, res) => {
    res.json({ ok: true })
  })

  // API keys and plans on one paywall (its admin API at /__402x/admin); the route takes a
  // key, a single x402 payment or credit. Its own discovery is off: the docs below list it.
  const keyed = x402Middleware({
    ...settings,
    routes: {
      [`${demoKeyedEndpoint.method} ${demoKeyedEndpoint.path}`]: {
        price: demoKeyedEndpoint.price,
        description: demoKeyedEndpoint.description,
        accept: ['key', 'x402', 'credits'],
      },
    },
    keys: { plans: demoPlans() },
    discovery: false,
  })
  // The admin API and the dashboard from the paywall that has the keys (every paywall
  // answers them; the first mounted would, and the credit one has no keys).
  app.use(['/__402x/admin', '/__402x/dashboard'], keyed)

  // Prepaid credit: POST /__402x/credits?amount=… (paid with x402), then Authorization: Bearer.
  app.use(x402Credits(settings))

  app.use(keyed)
  app.get(demoKeyedEndpoint.path, (_req, res) => {
    res.json({ symbol: 'ETH', price: quotes.ETH, currency: 'USD', at: new Date().toISOString() })
  })

  app.use('/api/generate', x402Middleware({ ...settings, price: 0.01, description: 'Text generation' }))
  app.post('/api/generate', async (req, res) => {
    const prompt = String(req.body?.prompt ?? '')
    if (!prompt) {
      res.status(400).json({ error: 'prompt required', message: 'send {"prompt": "…"}; you were not charged' })
      return
    }
    res.json({ result: `A short story about ${prompt}: once upon a time, ${prompt} paid per request.` })
  })

  app.get(
    '/api/market/:symbol',
    x402Middleware({ ...settings, price: 0.001, description: 'Real-time market data' }),
    async (req, res) => {
      const symbol = String(req.params.symbol).toUpperCase()
      const price = quotes[symbol]
      if (price === undefined) {
        res.status(404).json({
          error: 'unknown symbol',
          message: `try one of ${Object.keys(quotes).join(', ')}; you were not charged`,
        })
        return
      }
      res.json({ symbol, price, currency: 'USD', at: new Date().toISOString() })
    },
  )

  app.post(
    '/api/translate',
    x402Middleware({ ...settings, price: 0.02, description: 'Translation' }),
    async (req, res) => {
      const text = String(req.body?.text ?? '')
      const lang = String(req.body?.targetLang ?? 'es')
      res.json({ translation: greetings[text]?.[lang] ?? `[${lang}] ${text}` })
    },
  )
  // Image generation priced by size (the seed's dynamic price), checked before payment.
  app.post(
    '/api/image',
    x402Middleware({
      ...settings,
      description: 'Image generation',
      validate: (req) => {
        const { width, height, steps } = req.body ?? {}
        if (![width, height, steps].every((n) => Number.isInteger(n) && n > 0 && n <= 4096)) {
          throw new Error('send {"width": 512, "height": 512, "steps": 20} (whole numbers, at most 4096)')
        }
      },
      price: (req) => {
        const { width, height, steps } = req.body
        return (width * height * steps) / 1000000
      },
    }),
    async (req, res) => {
      const { width, height, steps } = req.body
      res.json({
        image: `data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"/>`,
        steps,
      })
    },
  )

  // GPT-style completion charged per output token (the seed's sample), at most 100 tokens:
  // the maximum is reserved (or paid up front), the rest returned as credit. Like a model's
  // max_tokens, the answer is kept within the maximum: one above it would be refused (502).
  app.post(
    '/api/complete',
    x402Middleware({ ...settings, pricePerToken: 0.00015, max: 0.015, description: 'Text completion' }),
    async (req, res) => {
      const ending = '… and that is how the story ends.'.split(' ')
      const words = String(req.body?.prompt ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .slice(0, completionMaxTokens - ending.length)
      const text = [...words, ...ending].join(' ')
      res.json({ text, tokens: text.split(/\s+/).length })
    },
  )

  // The priced routes as an OpenAPI document and an x402 manifest (served free).
  const docs = x402Middleware({
    ...settings,
    routes: Object.fromEntries(
      demoEndpoints.map((e) => [
        `${e.method} ${e.path}`,
        {
          price: /^[0-9.]+$/.test(e.price) ? e.price : e.path === '/api/complete' ? '0.015' : () => 0,
          description: e.description,
        },
      ]),
    ),
    discovery: { title: '402x demo API', version: '1.0.0' },
  })
  app.get(['/openapi.json', '/.well-known/x402'], docs)
  return Object.assign(app, { keys: keyed.paywall.keys as PaywallKeys })
}
