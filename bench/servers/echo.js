// A stand-in facilitator for the floor measurement (floor.js) and the client's cost
// (lib/facilitatorClientCost.js): it answers /verify and /settle with well-formed success
// answers after `config.verifyMs` and `config.settleMs`, like a facilitator waiting on the
// chain, without touching a chain.
import { createServer } from 'node:http'
import { config, listen } from './common.js'

const payer = `0x${'ab'.repeat(20)}`
const answers = {
  '/verify': { delay: config.verifyMs ?? 3, body: JSON.stringify({ isValid: true, payer }) },
  '/settle': {
    delay: config.settleMs ?? 15,
    body: JSON.stringify({ success: true, transaction: `0x${'cd'.repeat(32)}`, network: config.network, payer }),
  },
}

listen(
  createServer((req, res) => {
    const answer = answers[req.url]
    req.resume()
    req.on('end', () => {
      if (!answer) {
        res.writeHead(404).end()
        return
      }
      const reply = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer.body) })
        res.end(answer.body)
      }
      // A delay of 0 answers at once (the client-cost bench: no timer between the calls).
      if (answer.delay > 0) setTimeout(reply, answer.delay)
      else reply()
    })
  }),
)
