// Text generation, paid per request: seed 000's first sample and its "Text Generation" sample.
// Run `npm start` (402x dev) in one terminal, then `node examples/text-generation/server.js`
// from the same folder: payTo, network, USDC and facilitator come from the running 402x dev.

import { x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a real model: deterministic, so the same prompt gives the same answer.
async function yourAIModel(prompt) {
  return `Once upon a time, ${prompt} learned to charge per request.`
}
const model = {
  async complete(prompt) {
    const text = `${prompt} … and that is how the story ends.`
    return { text, tokenCount: text.split(/\s+/).length }
  },
}

const app = express()
app.use(express.json())

app.use('/api/generate', x402Middleware({ price: 0.01 })) // $0.01 per request
app.post('/api/generate', async (req, res) => {
  const result = await yourAIModel(req.body.prompt)
  res.json({ result })
})

// The seed writes `pricePerToken: 0.00015` here. Prices metered from the response are not
// implemented yet, so this route charges a flat $0.015 per request (about 100 tokens).
app.post('/api/complete', x402Middleware({ price: 0.015 }), async (req, res) => {
  const completion = await model.complete(req.body.prompt)
  res.json({
    text: completion.text,
    tokens: completion.tokenCount,
  })
})

const server = app.listen(Number(process.env.PORT ?? 3001), (error) => {
  if (error) throw error
  console.log(`text generation example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
