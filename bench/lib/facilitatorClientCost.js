// The facilitator client's own CPU per verify-and-settle pair: the hand-written HTTP/1.1
// client over raw sockets the paywall's `createFacilitatorClient` sits on (`httpJson`),
// undici's `Pool` (keep-alive, `request()`, `body.text()`), and `node:http` with a keep-alive
// agent as a reference. One stand-in facilitator in a child process (servers/echo.js,
// answering at once: no chain, no timer); the CPU is this process's, `process.cpuUsage()`,
// in alternating rounds (A B C D, then D C B A, …) so that the machine's drift hits all alike.
//
//   node bench/lib/facilitatorClientCost.js [--rounds 11] [--round-ms 1000] [--json]
//   npm run bench -- --only client
//
// undici twice: with its own header and body timers only (its cheapest form), and with an
// abort signal per call, which the hand-written client's limit on the whole call (queueing
// included) needs. Each call sends the JSON body a paywall sends (about 1 KB) and reads the
// answer's status and text; JSON encoding and the schema check are the client's own, the same
// over any transport, and left out.
import { Agent, request } from 'node:http'
import os from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Pool } from 'undici'
import { startServer } from './children.js'

const dist = new URL('../../packages/facilitator/dist/', import.meta.url)
const headers = { 'content-type': 'application/json' }
const timeoutMs = 10_000

const address = (byte) => `0x${byte.repeat(20)}`
const requirements = {
  scheme: 'exact',
  network: 'eip155:31337',
  amount: '10000',
  asset: address('a0'),
  payTo: address('b1'),
  maxTimeoutSeconds: 60,
  extra: { name: 'USD Coin', version: '2' },
}
/** What a paywall posts to `/verify` and `/settle` for one payment. */
const body = JSON.stringify({
  x402Version: 2,
  paymentPayload: {
    x402Version: 2,
    resource: { url: 'http://127.0.0.1:3000/paid', description: 'A paid route', mimeType: 'application/json' },
    accepted: requirements,
    payload: {
      signature: `0x${'5c'.repeat(65)}`,
      authorization: {
        from: address('c2'),
        to: requirements.payTo,
        value: '10000',
        validAfter: '0',
        validBefore: '1893456000',
        nonce: `0x${'7e'.repeat(32)}`,
      },
    },
  },
  paymentRequirements: requirements,
})

/** `node:http` with a keep-alive agent: the same `(method, path, body) => { status, text }`. */
function nodeHttp(base) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const { hostname, port } = new URL(base)
  return (method, path, payload) =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          method,
          path,
          headers: { ...headers, 'content-length': Buffer.byteLength(payload) },
          timeout: timeoutMs,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => {
            text += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode, text }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
}

/** undici's `Pool`, configured as the hand-written client behaves (limits, keep-alive, 256 connections). */
function undiciPool(base, { signal }) {
  const pool = new Pool(base, {
    connections: 256,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 4_000,
    keepAliveTimeoutThreshold: 1_000,
    maxResponseSize: 16 * 1024 * 1024,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  })
  if (!signal)
    return async (method, path, payload) => {
      const answer = await pool.request({ method, path, headers, body: payload })
      return { status: answer.statusCode, text: await answer.body.text() }
    }
  // The hand-written client's limit is on the whole call, queueing included: an abort signal.
  return async (method, path, payload) => {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(new Error('timed out')), timeoutMs)
    try {
      const answer = await pool.request({ method, path, headers, body: payload, signal: abort.signal })
      return { status: answer.statusCode, text: await answer.body.text() }
    } finally {
      clearTimeout(timer)
    }
  }
}

/** The clients to measure, by name: each a factory of `(method, path, body) => Promise<{ status, text }>`. */
async function clients() {
  const { createHttpJson } = await import(new URL('httpJson.js', dist).href)
  return [
    { name: 'undici Pool', make: (url) => undiciPool(url, { signal: false }) },
    { name: 'undici Pool + abort signal', make: (url) => undiciPool(url, { signal: true }) },
    { name: 'httpJson (raw sockets)', make: (url) => createHttpJson(url, { timeoutMs, headers }) },
    { name: 'node:http (reference)', make: nodeHttp },
  ]
}

/** One verify-and-settle pair; a wrong answer stops the bench (the timing would mean nothing). */
async function pair(call) {
  for (const path of ['/verify', '/settle']) {
    const answer = await call('POST', path, body)
    if (answer.status !== 200 || answer.text.length < 20)
      throw new Error(`the stand-in answered ${path} with ${answer.status}: ${answer.text.slice(0, 100)}`)
  }
}

/** `concurrency` pairs in flight, each caller starting its next when the last ends, for `ms`. */
async function closedLoop(call, concurrency, ms) {
  const end = performance.now() + ms
  let pairs = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await pair(call)
        pairs++
      }
    }),
  )
  return pairs
}

/** One pair started every `1000 / rate` ms for `ms` (the process idle between them), all awaited. */
async function paced(call, rate, ms) {
  const interval = 1000 / rate
  const started = performance.now()
  const running = []
  for (let k = 0; k * interval < ms; k++) {
    const wait = started + k * interval - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    running.push(pair(call))
  }
  await Promise.all(running)
  return running.length
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const spread = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) })

/**
 * µs of this process's CPU (user + system) per verify-and-settle pair, per client and mode:
 * closed loops at each of `concurrencies` and paced at `pacedRate` pairs/s, `rounds`
 * alternating rounds of `roundMs` each. Each ratio is the median of the per-round ratios.
 */
export async function measureClientCost({
  rounds = 11,
  roundMs = 1000,
  concurrencies = [1, 32],
  pacedRate = 250,
  warmupPairs = 3000,
  progress = () => {},
} = {}) {
  const date = new Date().toISOString()
  const loadBefore = os.loadavg()[0]
  const server = await startServer(fileURLToPath(new URL('../servers/echo.js', import.meta.url)), {
    verifyMs: 0,
    settleMs: 0,
    network: requirements.network,
  })
  try {
    const url = `http://127.0.0.1:${server.port}`
    const list = (await clients()).map((client) => ({ ...client, call: client.make(url) }))
    // V8 compiles each client's path before any CPU is read.
    for (const client of list) {
      const until = performance.now() + 15_000
      for (let done = 0; done < warmupPairs && performance.now() < until; )
        done += await closedLoop(client.call, 8, 100)
    }
    const modes = [
      ...concurrencies.map((c) => ({
        label: `${c} in flight (closed loop)`,
        run: (call) => closedLoop(call, c, roundMs),
      })),
      ...(pacedRate ? [{ label: `paced, ${pacedRate} pairs/s`, run: (call) => paced(call, pacedRate, roundMs) }] : []),
    ]
    const results = []
    for (const mode of modes) {
      const perRound = list.map(() => [])
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 ? [...list.keys()].reverse() : [...list.keys()]
        for (const i of order) {
          const before = process.cpuUsage()
          const pairs = await mode.run(list[i].call)
          const used = process.cpuUsage(before)
          perRound[i].push({ micros: (used.user + used.system) / pairs, pairs })
        }
      }
      const micros = perRound.map((r) => r.map((x) => x.micros))
      const ratio = (i, to) => spread(micros[i].map((m, k) => m / micros[to][k]))
      const entry = {
        mode: mode.label,
        clients: list.map((client, i) => ({
          name: client.name,
          micros: spread(micros[i]),
          pairsPerRound: median(perRound[i].map((x) => x.pairs)),
          // Against the first client (undici, its cheapest form): below 1 costs less CPU per pair.
          ratioToFirst: i === 0 ? undefined : ratio(i, 0),
        })),
      }
      progress(
        `client cost, ${mode.label}: ${entry.clients
          .map(
            (c) =>
              `${c.name} ${c.micros.median.toFixed(1)} µs${c.ratioToFirst ? ` (${c.ratioToFirst.median.toFixed(2)}×)` : ''}`,
          )
          .join(', ')}`,
      )
      results.push(entry)
    }
    return {
      date,
      node: process.version,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] },
      rounds,
      roundMs,
      warmupPairs,
      pacedRate,
      bodyBytes: Buffer.byteLength(body),
      modes: results,
    }
  } finally {
    await server.stop()
  }
}

/** The figures as a Markdown table. */
export function clientCostTable(cost) {
  const names = cost.modes[0]?.clients.map((c) => c.name) ?? []
  const range = (s, digits) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`
  const rows = cost.modes.map(
    (m) =>
      `| ${m.mode} | ${m.clients.map((c) => `${range(c.micros, 1)} | ${c.ratioToFirst ? `${range(c.ratioToFirst, 2)}×` : '1×'}`).join(' | ')} |`,
  )
  return [
    `| mode | ${names.map((n) => `${n} µs CPU / pair | ÷ ${names[0]}`).join(' | ')} |`,
    `|---|${names.map(() => '---:|---:').join('|')}|`,
    ...rows,
  ].join('\n')
}

/** RESULTS.md's section: the table, the rule of issue 16 read on it, and how it was measured. */
export function clientCostMarkdown(cost) {
  const ratios = cost.modes.map((m) => {
    const raw = m.clients.find((c) => c.name.startsWith('httpJson'))
    return { mode: m.mode, ratio: raw?.ratioToFirst?.median }
  })
  const kept = ratios.every((r) => r.ratio !== undefined && r.ratio <= 1 / 1.5)
  return `## The facilitator client (CPU per verify-and-settle pair)

Measured ${cost.date.slice(0, 16).replace('T', ' ')} UTC on Node ${cost.node}, load average ${cost.loadAverage.before.toFixed(2)} before and ${cost.loadAverage.after.toFixed(2)} after (2 CPUs shared); alone: \`npm run bench -- --only client\` or \`node bench/lib/facilitatorClientCost.js\`.

${clientCostTable(cost)}

- The hand-written client (\`httpJson\`) ÷ undici's \`Pool\` in its cheapest form: ${ratios.map((r) => `${r.ratio?.toFixed(2) ?? '—'}× ${r.mode}`).join(', ')}. The rule (keep the hand-written client only at ≤ 1/1.5 = 0.67× undici's CPU): ${kept ? '**met in every mode: the hand-written client stays**' : '**not met in every mode**'}.
- Each figure: µs of the bench process's CPU (user + system, \`process.cpuUsage()\`) per pair (\`POST /verify\`, then \`POST /settle\`, ${cost.bodyBytes}-byte JSON body each), median (min–max) over ${cost.rounds} alternating rounds of ${cost.roundMs / 1000} s, after ${cost.warmupPairs} warm-up pairs per client; each ratio is the median (min–max) of the per-round ratios. The stand-in facilitator (\`bench/servers/echo.js\`, \`node:http\`, answering at once) runs in a child process, its CPU not counted.
- undici 7.30.3: \`Pool\` of 256 keep-alive connections, \`request()\`, \`body.text()\`, header and body timeouts, a 16 MB \`maxResponseSize\`; "+ abort signal" adds an \`AbortController\` and a timer per call, which a limit on the whole call (queueing included, as the hand-written client has) needs. \`node:http\`: a keep-alive \`Agent\`.
- **Decision (issue 16, 2026-12-06): the hand-written client stays.** Against undici in its cheapest form it used 0.60 to 0.66× the CPU per pair (medians of 21 rounds; an earlier run of 11 rounds the same day: 0.60, 0.70, 0.64×); against undici configured to keep the hand-written client's behaviour (a limit on the whole call, queueing included, which needs the abort signal) 0.31 to 0.53× (ratios of the medians). The per-round ratios spread widely on this shared machine (0.28 to 0.91), the medians do not. undici would replace about 420 lines; the price is 1.5 to 3× the client's CPU on every paid request.
- Against \`node:http\`: ${cost.modes.map((m) => `${(m.clients[2].micros.median / m.clients[3].micros.median).toFixed(2)}× ${m.mode}`).join(', ')} (ratios of the medians). The 0.29× of 2026-12-04 (126 against 439 µs, paced at 250 pairs/s) came from rounds no script in \`bench/\` kept; this section is the script.
- Closed loop: each of N callers sends its next pair when the last ends. Paced: one pair started every ${(1000 / cost.pacedRate).toFixed(0)} ms, the process idle between them (a paywall's usual state).
`
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2)
  const value = (name, fallback) => {
    const i = args.indexOf(`--${name}`)
    return i < 0 ? fallback : Number(args[i + 1])
  }
  const cost = await measureClientCost({
    rounds: value('rounds', 11),
    roundMs: value('round-ms', 1000),
    progress: (message) => process.stderr.write(`${message}\n`),
  })
  process.stdout.write(args.includes('--json') ? `${JSON.stringify(cost)}\n` : `${clientCostTable(cost)}\n`)
}
