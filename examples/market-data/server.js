// Real-time market data at $0.001 per query: seed 000's "Real-Time Market Data" sample.
// Run `npm start` (402x dev), then `node examples/market-data/server.js` from the same folder.

import { x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a market data feed: fixed quotes, so answers are predictable.
const quotes = { BTC: 97250.5, ETH: 3412.25, SOL: 187.4 }
async function getMarketData(symbol) {
  const price = quotes[symbol.toUpperCase()]
  return price === undefined ? undefined : { symbol: symbol.toUpperCase(), price, currency: 'USD' }
}

const app = express()

// Stock prices, crypto data, sports scores
app.get(
  '/api/market/:symbol',
  x402Middleware({
    price: 0.001,
  }),
  async (req, res) => {
    const data = await getMarketData(req.params.symbol)
    // An answer of 400 or more is never charged: the payment is released, not settled.
    if (!data) return res.status(404).json({ error: `unknown symbol ${req.params.symbol}; you were not charged` })
    res.json(data)
  },
)

const server = app.listen(Number(process.env.PORT ?? 3003), (error) => {
  if (error) throw error
  console.log(`market data example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
