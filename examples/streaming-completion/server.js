// An OpenAI-style streaming chat completion, charged per output token as it streams.
// Run `npm start` (402x dev) in one terminal, then `node examples/streaming-completion/server.js`
// from the same folder: payTo, network, USDC and facilitator come from the running 402x dev.
//
// Callers buy credit once (POST /__402x/credits?amount=1, paid with x402), then stream with
// `Authorization: Bearer <token>`: no chain work per request. Each SSE event is one token,
// as the final usage chunk reports; the stream ends with an `x402-receipt` event that says
// what was charged.

import { x402Credits, x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a real model: it streams the prompt back, a word at a time.
async function* generate(prompt, maxTokens) {
  const words = `You said: ${prompt}`.split(/\s+/).slice(0, maxTokens)
  for (const word of words) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    yield `${word} `
  }
}

const app = express()
app.use(express.json())
app.use(x402Credits()) // POST /__402x/credits?amount=… and GET /__402x/credits

app.post(
  '/v1/chat/completions',
  x402Middleware({ pricePerToken: 0.0001, max: 0.05 }), // $0.0001 per token, at most 500 tokens
  async (req, res) => {
    const prompt = req.body.messages?.at(-1)?.content ?? ''
    const id = `chatcmpl-${Date.now()}`
    if (!req.body.stream) {
      let text = ''
      let tokens = 0
      for await (const token of generate(prompt, req.body.max_tokens ?? 500)) {
        text += token
        tokens += 1
      }
      return res.json({
        id,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: text.trim() }, finish_reason: 'stop' }],
        usage: { completion_tokens: tokens },
      })
    }
    res.setHeader('content-type', 'text/event-stream')
    res.setHeader('cache-control', 'no-cache')
    let tokens = 0
    for await (const token of generate(prompt, req.body.max_tokens ?? 500)) {
      if (res.writableEnded) break // the reserve ran out, or the caller left
      const chunk = { id, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: token } }] }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`)
      tokens += 1
    }
    // The model's own count (OpenAI's stream_options.include_usage): it replaces the
    // estimate (4 bytes a token) the stream was metered by while it ran.
    const usage = { id, object: 'chat.completion.chunk', choices: [], usage: { completion_tokens: tokens } }
    res.write(`data: ${JSON.stringify(usage)}\n\n`)
    res.write('data: [DONE]\n\n')
    res.end()
  },
)

const server = app.listen(Number(process.env.PORT ?? 3007), (error) => {
  if (error) throw error
  console.log(`streaming completion example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
