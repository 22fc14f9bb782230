// The paid flow's floor, for the middleware-CPU target: a plain Node `http` server that does,
// per paid request, only what any x402 middleware with a facilitator at a URL must do: decode
// PAYMENT-SIGNATURE, POST /verify, POST /settle (JSON over keep-alive `node:http`, as 402x's
// facilitator client does) and answer with a PAYMENT-RESPONSE. No checks, no ledger, no locks.
// Its facilitator is `echo.js`, which answers after a delay like a real one.
import { Agent, createServer, request } from 'node:http'
import { body, config, listen } from './common.js'

const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const text = JSON.stringify(body)
/** What a route at `config.price` asks for, as 402x computes it. */
const requirements = {
  scheme: 'exact',
  network: config.network,
  amount: String(config.amount),
  asset: config.usdc,
  payTo: config.payTo,
  maxTimeoutSeconds: 60,
  extra: config.eip712,
}

const post = (path, json) =>
  new Promise((resolve, reject) => {
    const data = JSON.stringify(json)
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port: config.echoPort,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks = []
        res.on('data', (chunk) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
      },
    )
    req.on('error', reject)
    req.end(data)
  })

const handler = async (req, res) => {
  const header = req.headers['payment-signature']
  if (typeof header !== 'string') {
    res.writeHead(402).end()
    return
  }
  const call = {
    x402Version: 2,
    paymentPayload: JSON.parse(Buffer.from(header, 'base64').toString('utf8')),
    paymentRequirements: requirements,
  }
  const verified = await post('/verify', call)
  const settled = verified.isValid ? await post('/settle', call) : undefined
  if (!settled?.success) {
    res.writeHead(402).end()
    return
  }
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'payment-response': Buffer.from(JSON.stringify(settled)).toString('base64'),
  })
  res.end(text)
}

listen(
  createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
  }),
)
