// Image generation, priced by size and complexity: seed 000's "Image Generation" sample.
// Run `npm start` (402x dev), then `node examples/image-generation/server.js` from the same folder.

import { x402Middleware } from '402x-api'
import express from 'express'

// A stand-in for a real image model: describes the image it would have drawn.
async function generateImage({ prompt, width, height, steps }) {
  return { prompt, width, height, steps, url: `https://images.example.com/${width}x${height}/${steps}.png` }
}

const app = express()
app.use(express.json())

app.post(
  '/api/image',
  x402Middleware({
    // $1 per million pixel-steps: 512 × 512 × 20 steps costs $5.24288.
    price: (req) => {
      const { width, height, steps } = req.body
      return (width * height * steps) / 1000000
    },
    description: 'Image generation, priced by width × height × steps',
  }),
  async (req, res) => {
    res.json({ image: await generateImage(req.body) })
  },
)

const server = app.listen(Number(process.env.PORT ?? 3002), (error) => {
  if (error) throw error
  console.log(`image generation example on http://localhost:${server.address().port}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}
