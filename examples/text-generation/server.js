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

// GPT-style text completion API, charged per output token: the route reserves its maximum
// (4096 tokens unless `max` says otherwise) from the caller's credit, or takes it as one
// payment, then charges `tokens × $0.00015` and returns the rest as credit.
app.post('/api/complete', x402Middleware({ pricePerToken: 0.00015 }), async (req, res) => {
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
