// A JSON-RPC proxy in front of a chain, run as its own process:
//   node rpcProxyProcess.mjs <upstream URL>
// It prints one line, {"url","control"}, once it listens. POST <control>/swallow?on=1 makes it
// swallow eth_sendRawTransaction (read, never forwarded, never answered); ?on=0 forwards it
// again. POST <control>/signal-on-send?pid=N&signal=SIGSTOP sends that signal to process N
// just as the next eth_sendRawTransaction is forwarded (anvil stopped, or killed, as a
// settlement is sent); after a SIGSTOP the send is forwarded only once /proc shows the process
// stopped. GET <control>/stats answers how many sends it swallowed and forwarded, how many
// signals it sent and how many stops it saw. Every request is logged on stderr.
import { readFileSync } from 'node:fs'
import { createServer, request } from 'node:http'

const upstream = new URL(process.argv[2] ?? 'http://127.0.0.1:8545')
let swallow = false
/** A signal to send to a process as the next send is forwarded. */
let onSend
const stats = { swallowed: 0, forwarded: 0, signalled: 0, stopSeen: 0 }
const t0 = Date.now()
const log = (...a) => process.stderr.write(`[proxy +${Date.now() - t0}ms] ${a.join(' ')}\n`)

const forward = (body, res) => {
  const up = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      path: upstream.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (answer) => {
      log('answered', body.slice(0, 80))
      res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' })
      answer.pipe(res)
    },
  )
  up.on('error', () => res.destroy())
  up.end(body)
}

const proxy = createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    let calls
    try {
      const parsed = JSON.parse(body)
      calls = Array.isArray(parsed) ? parsed : [parsed]
    } catch {
      calls = []
    }
    const sends = calls.some((call) => call?.method === 'eth_sendRawTransaction')
    log('got', calls.map((c) => c?.method).join(','))
    if (sends && swallow) {
      stats.swallowed++
      return // never answered: the caller's timeout is all it gets
    }
    if (sends) stats.forwarded++
    if (sends && onSend) {
      // Signalled first, then forwarded: a stopped node has the send in its socket, unread.
      const { pid, signal } = onSend
      onSend = undefined
      process.kill(pid, signal)
      stats.signalled++
      log('signalled', pid, signal)
      if (signal === 'SIGSTOP') {
        // Forwarded only once the kernel shows the process stopped (state T).
        const waitStopped = (left) => {
          if (processState(pid) === 'T') {
            stats.stopSeen++
            return forward(body, res)
          }
          if (left <= 0) return forward(body, res)
          setTimeout(() => waitStopped(left - 1), 5)
        }
        return waitStopped(400)
      }
    }
    forward(body, res)
  })
})

/** The state letter of process `pid` in /proc (T: stopped), or undefined. */
const processState = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  } catch {
    return undefined
  }
}

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control')
  if (url.pathname === '/swallow') {
    swallow = url.searchParams.get('on') === '1'
  } else if (url.pathname === '/signal-on-send') {
    onSend = { pid: Number(url.searchParams.get('pid')), signal: url.searchParams.get('signal') ?? 'SIGSTOP' }
  } else if (url.pathname !== '/stats') {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ swallow, ...stats }))
})

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
const [port, controlPort] = await Promise.all([listen(proxy), listen(control)])
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${port}`, control: `http://127.0.0.1:${controlPort}` })}\n`,
)
process.on('SIGTERM', () => process.exit(0))
