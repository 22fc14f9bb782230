// A stand-in for an OpenAI-compatible model server (vLLM, Ollama, llama.cpp, OpenAI itself):
// POST /v1/chat/completions, answered whole or as SSE, with the `usage` counts they send.
// It knows nothing of payments: 402x proxy sits in front of it.
import { createServer } from 'node:http'

const port = Number(process.env.PORT ?? 8000)
const words = 'Paid per token, refunded the rest, no account needed.'.split(' ')

const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'POST /v1/chat/completions' } }))
    return
  }
  let text = ''
  for await (const chunk of req) text += chunk
  const body = JSON.parse(text || '{}')
  // Who paid, as 402x proxy tells the upstream.
  const consumer = req.headers['x-402x-consumer'] ?? 'unknown'
  const usage = { prompt_tokens: 12, completion_tokens: words.length, total_tokens: 12 + words.length }
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        object: 'chat.completion',
        consumer,
        choices: [{ message: { role: 'assistant', content: words.join(' ') } }],
        usage,
      }),
    )
    return
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  for (const word of words) {
    res.write(
      `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ delta: { content: `${word} ` } }] })}\n\n`,
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // With stream_options.include_usage, the last chunk has no choices and the counts.
  if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ choices: [], usage })}\n\n`)
  res.end('data: [DONE]\n\n')
})
server.listen(port, '127.0.0.1', () => console.log(`model server http://127.0.0.1:${server.address().port}`))
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)))
