// Translation at $0.02 per request: the server of seed 000's "REST API" sample.
// Run `npm start` (402x dev), then `node examples/translate/server.js` from the same folder,
// and `node examples/translate/client.js` to pay it.

import { x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a translation model: a phrase book.
const phrases = {
  'Hello, world!': { es: '¡Hola, mundo!', fr: 'Bonjour, le monde !', de: 'Hallo, Welt!' },
}
async function translate(text, targetLang) {
  return phrases[text]?.[targetLang] ?? `[${targetLang}] ${text}`
}

const app = express()
app.use(express.json())

app.post('/api/translate', x402Middleware({ price: 0.02 }), async (req, res) => {
  const translation = await translate(req.body.text, req.body.targetLang)
  res.json({ translation })
})

const server = app.listen(Number(process.env.PORT ?? 3005), (error) => {
  if (error) throw error
  console.log(`translate example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
