// The proxy section's upstream: a plain Node `http` server answering every path with the same
// small JSON (the bench's `body`), in its own process. The direct row, `402x proxy` and nginx
// all reach it. It counts what reached it per row (`?row=<id>` on the path), and what should
// never have: a payment or a credit token sent on by the proxy. `GET /__bench/counts` (asked
// by the bench itself, never under load) answers those counts.
import { createServer } from 'node:http'
import { body, listen } from './common.js'

const payload = JSON.stringify(body)
const head = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }

/** Per row: requests, those that carried a payment or a credit token, those with X-402x-Paid and X-402x-Consumer. */
const counts = {}
const count = (req) => {
  const at = req.url.indexOf('row=')
  if (at < 0) return
  const row = req.url.slice(at + 4)
  const c = counts[row] ?? { requests: 0, leaked: 0, paidHeader: 0, consumerHeader: 0 }
  counts[row] = c
  c.requests++
  const auth = req.headers.authorization
  if (req.headers['payment-signature'] || req.headers['x-payment'] || auth?.includes('x402c_')) c.leaked++
  if (req.headers['x-402x-paid']) c.paidHeader++
  if (req.headers['x-402x-consumer']) c.consumerHeader++
}

listen(
  createServer((req, res) => {
    if (req.url === '/__bench/counts') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(counts))
      return
    }
    count(req)
    res.writeHead(200, head)
    res.end(payload)
  }),
)
