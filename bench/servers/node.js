// Framework comparison, plain Node `http`: the same routes with no middleware
// (`config.paywall` false), or wrapped in `402x-api/node`'s `withX402` with the facilitator
// over HTTP (see common.js).
import { createServer } from 'node:http'
import { body, config, listen, paywallOptions, registerBenchNetwork } from './common.js'

const routes = new Set(['/paid', '/free', '/free-fn'])
const text = JSON.stringify(body)
/** What Express's `res.json` sends, without a framework. */
const handler = (req, res) => {
  if (req.method !== 'GET' || !routes.has(req.url)) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

let listener = handler
let onClose
if (config.paywall) {
  registerBenchNetwork()
  const { withX402 } = await import('402x-api/node')
  listener = withX402(paywallOptions(), handler)
  onClose = () => listener.paywall.close()
}
listen(createServer(listener), onClose)
