// The websocket section (issue 21): messages per second that one `ws` server sends over a
// connection billed per message from credit (`createX402WebSocket({ billing: { perMessage } })`,
// a bearer token on connect) against the same server's unbilled path, in alternating rounds
// of one run. Target: billed ≥ 0.8× unbilled. No chain: credit is granted by the operator.
//
//   node bench/run.js websocket [--quick]        (or: node bench/websocket.js [--quick])
//
// The server is a child process (this file with BENCH_WS_SERVE=1); the load comes from this
// process: `connections` sockets each ask for `burst` messages of 64 bytes and time the
// burst until its last message arrives. The money is checked after the run: the credit
// spent equals the billed messages × the price, nothing reserved is left.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket, { WebSocketServer } from 'ws'

const here = fileURLToPath(import.meta.url)
const payload = JSON.stringify({ t: 'x'.repeat(50) })
/** $0.000001: one atomic unit of USDC per message. */
const price = '0.000001'
const grant = 1000

if (process.env.BENCH_WS_SERVE === '1') await serve()

/** The child: one HTTP server, `ws` behind it; `/free` unbilled, `/billed` billed from credit. */
async function serve() {
  const { createX402WebSocket } = await import('402x-api')
  const dir = mkdtempSync(join(tmpdir(), '402x-bench-ws-'))
  const paid = createX402WebSocket({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    // Never called: credit-funded connections touch no facilitator.
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    billing: { perMessage: price },
  })
  const { token } = await paid.paywall.credits.grant({ amount: grant, ref: 'bench' })
  const server = createServer((_req, res) => res.writeHead(404).end())
  const stream = (ws) =>
    ws.on('message', (data) => {
      const n = Number(String(data))
      for (let i = 0; i < n; i++) ws.send(payload)
    })
  const free = new WebSocketServer({ noServer: true })
  free.on('connection', stream)
  const billed = new WebSocketServer({ noServer: true })
  billed.on('connection', async (ws, req) => {
    const payment = await paid.verify(req, ws)
    if (payment.verified) stream(ws)
  })
  const upgrades = (req, socket, head) => {
    if (req.url === '/free') free.handleUpgrade(req, socket, head, (ws) => free.emit('connection', ws, req))
  }
  server.on('upgrade', upgrades)
  paid.handleUpgrade(server, billed, { path: '/billed' })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.send({ port: server.address().port, token })
  process.on('message', async (message) => {
    if (message !== 'balance') return
    const balance = await paid.paywall.credits.balance(token)
    process.send({ balance })
  })
  process.on('SIGTERM', async () => {
    for (const ws of [...free.clients, ...billed.clients]) ws.terminate()
    server.close()
    await paid.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  })
}

/** Opens `count` sockets to `url`. */
const openAll = (url, count, headers) =>
  Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url, { headers })
          ws.once('open', () => resolve(ws))
          ws.once('error', reject)
        }),
    ),
  )

/** Every socket asks for `burst` messages at once: messages per second until the last arrived. */
async function burstRate(sockets, burst) {
  const started = performance.now()
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve, reject) => {
          let got = 0
          const timer = setTimeout(() => reject(new Error(`burst not received in 30 s (${got}/${burst})`)), 30_000)
          const onMessage = (data) => {
            if (String(data).startsWith('{"type":"x402.')) return
            if (++got === burst) {
              clearTimeout(timer)
              ws.off('message', onMessage)
              resolve()
            }
          }
          ws.on('message', onMessage)
          ws.send(String(burst))
        }),
    ),
  )
  return (sockets.length * burst) / ((performance.now() - started) / 1000)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/**
 * Runs the section; resolves with its figures. `rounds` alternating pairs (unbilled, billed),
 * each a burst on every connection, after one warm-up pair.
 */
export async function runWebSocket({ quick = false, progress = () => {} } = {}) {
  const connections = 4
  const burst = quick ? 10_000 : 25_000
  const rounds = quick ? 3 : 5
  const child = fork(here, [], {
    env: { ...process.env, BENCH_WS_SERVE: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const next = () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the websocket bench server did not answer in 20 s')), 20_000)
      child.once('message', (m) => {
        clearTimeout(timer)
        resolve(m)
      })
    })
  let sockets = []
  try {
    const { port, token } = await next()
    const free = await openAll(`ws://127.0.0.1:${port}/free`, connections)
    const billed = await openAll(`ws://127.0.0.1:${port}/billed`, connections, { authorization: `Bearer ${token}` })
    sockets = [...free, ...billed]
    await burstRate(free, burst)
    await burstRate(billed, burst)
    const rates = { unbilled: [], billed: [] }
    for (let i = 0; i < rounds; i++) {
      rates.unbilled.push(await burstRate(free, burst))
      rates.billed.push(await burstRate(billed, burst))
      progress(
        `websocket round ${i + 1}/${rounds}: unbilled ${Math.round(rates.unbilled.at(-1))}/s, billed ${Math.round(rates.billed.at(-1))}/s`,
      )
    }
    for (const ws of billed) ws.close()
    // The money: every billed message charged once, nothing left reserved.
    const billedMessages = BigInt(connections * burst * (rounds + 1))
    let balance
    for (let i = 0; i < 100; i++) {
      child.send('balance')
      ;({ balance } = await next())
      if (balance.reserved === '0') break
      await new Promise((r) => setTimeout(r, 50))
    }
    const spentAtomic = BigInt(grant) * 1_000_000n - BigInt(Math.round(Number(balance.available) * 1e6))
    const result = {
      connections,
      burst,
      rounds,
      unbilled: median(rates.unbilled),
      billed: median(rates.billed),
      ratio: median(rates.billed) / median(rates.unbilled),
      rates,
      money: { billedMessages: String(billedMessages), spentAtomic: String(spentAtomic), reserved: balance.reserved },
      moneyOk: spentAtomic === billedMessages && balance.reserved === '0',
    }
    return result
  } finally {
    for (const ws of sockets) ws.terminate()
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
}

/** The section's lines for RESULTS.md. */
export function webSocketTable(r) {
  const k = (n) => `${Math.round(n).toLocaleString('en-US')}`
  return [
    '| path | messages/s (median of rounds) |',
    '| --- | --- |',
    `| \`ws\`, unbilled | ${k(r.unbilled)} |`,
    `| \`ws\`, billed per message from credit | ${k(r.billed)} |`,
    `| ratio (target ≥ 0.8×) | ${r.ratio.toFixed(2)}× ${r.ratio >= 0.8 ? '(met)' : '(not met)'} |`,
    '',
    `${r.connections} connections, bursts of ${r.burst.toLocaleString('en-US')} messages of 64 bytes each, ${r.rounds} alternating rounds after a warm-up pair. Money: ${r.money.billedMessages} billed messages, ${r.money.spentAtomic} atomic units spent, ${r.money.reserved} reserved after close (${r.moneyOk ? 'exact' : 'MISMATCH'}).`,
  ].join('\n')
}

if (process.argv[1] === here && process.env.BENCH_WS_SERVE !== '1') {
  const result = await runWebSocket({ quick: process.argv.includes('--quick'), progress: (m) => console.error(m) })
  if (process.argv.includes('--json')) console.log(JSON.stringify(result))
  else console.log(webSocketTable(result))
}
