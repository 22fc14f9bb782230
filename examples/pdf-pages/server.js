// Document processing at $0.01 per page: seed 000's "PDF/Document Processing" sample.
// Run `npm start` (402x dev), then `node examples/pdf-pages/server.js` from the same folder.

import { x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a PDF pipeline: one line of "extracted text" per page.
async function processDocument({ pages, title = 'document' }) {
  return Array.from({ length: pages }, (_, i) => `${title}, page ${i + 1}: extracted text`)
}

const app = express()
app.use(express.json())

app.post(
  '/api/pdf',
  x402Middleware({
    // A missing or non-numeric `pages` makes the price NaN: a 400, before any payment.
    price: (req) => req.body.pages * 0.01,
    description: 'PDF processing, $0.01 per page',
  }),
  async (req, res) => {
    const text = await processDocument(req.body)
    res.json({ pages: text.length, text })
  },
)

const server = app.listen(Number(process.env.PORT ?? 3004), (error) => {
  if (error) throw error
  console.log(`PDF pages example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
