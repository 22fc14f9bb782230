// Section `dashboard`: does the dashboard slow paid calls? Paid (x402, settled on anvil) and
// credit-funded requests per second on one server, with the dashboard's live stream
// (`GET /__402x/admin/live`, server-sent events, read by this process) open and closed, in
// alternating rounds of the same run. Analytics are recorded on both sides (they always are);
// the stream's cost is the difference. Target: open ≥ 0.97 × closed.
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { startServer } from './lib/children.js'
import { runLoad } from './lib/load.js'
import { buyCredit, creditLeft, fetchTerms, presign } from './lib/payments.js'

const script = (name) => fileURLToPath(new URL(`./servers/${name}.js`, import.meta.url))
const adminToken = 'bench-dashboard-token'
const path = '/api/data'

/** Opens the live stream and counts its events until `close()`. */
function openLive(port) {
  let events = 0
  let request
  const opened = new Promise((resolve, reject) => {
    request = http.get(
      { host: '127.0.0.1', port, path: '/__402x/admin/live', headers: { authorization: `Bearer ${adminToken}` } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`the live stream answered ${res.statusCode}`))
        res.setEncoding('utf8')
        res.on('data', (chunk) => {
          events += chunk.split('event: request').length - 1
        })
        resolve()
      },
    )
    request.on('error', reject)
    request.setTimeout(10_000, () => request.destroy(new Error('the live stream did not open')))
  })
  return {
    opened,
    get events() {
      return events
    },
    close: () => request.destroy(),
  }
}

const median = (values) => {
  const list = values.filter(Number.isFinite).sort((a, b) => a - b)
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}

/**
 * Runs the section on the bench's chain (`context` of bench/run.js): one facilitator, one
 * server, alternating rounds (closed, open, open, closed …) per kind.
 */
export async function runDashboard(context) {
  const { settings, buyers, outDir, progress, snapshot } = context
  const quick = settings.durationMs < 5000
  // Paid calls are bound by the chain (about 150 req/s here) and vary more round to round; 8
  // rounds of each, for a median that a single slow round cannot move. Credit rounds single
  // rounds from 0.77× to 1.11× on a quiet 2-core machine: 16 of them, for a median within ±0.03.
  const s = {
    concurrency: 8,
    rounds: { paid: 8, credit: 16 },
    roundMs: quick ? 1500 : 2500,
    warmupMs: quick ? 500 : 1000,
  }
  await snapshot.restore()
  const config = { ...context.base }
  const facilitator = await startServer(script('facilitator'), config)
  let server
  try {
    server = await startServer(script('dashboard'), {
      ...config,
      adminToken,
      facilitatorUrl: `http://127.0.0.1:${facilitator.port}`,
      ledger: `${outDir}ledger-dashboard.db`,
    })
    const { port } = server
    const terms = await fetchTerms(port, path)
    // $1,000 (the top-up's default maximum) a token; enough tokens for every credit round at
    // up to 6,000 req/s, each round on the next token: one that ran out would fail the later rounds.
    const price = BigInt(terms.requirements.amount)
    const needed = BigInt(Math.ceil((6000 * (s.warmupMs + 2 * s.rounds.credit * s.roundMs)) / 1000))
    const perToken = 1_000_000_000n / price
    const bought = []
    const tokens = Number((needed + perToken - 1n) / perToken)
    // Each from a buyer of its own (each holds $1,000 on the devchain), and none the paid rounds use.
    for (let i = 0; i < tokens; i++) bought.push(await buyCredit({ port, amount: '1000', buyer: buyers[i] }))
    // The money check: every paid 200 settled on chain, every credit-funded 200 drawn once (warm-ups included).
    const { chain } = context
    const receivedBefore = await chain.balanceOf(chain.payTo.address)
    const served = { paid: 0, credit: 0 }
    let creditRuns = 0
    const kinds = {
      paid: (durationMs, rate) => {
        const payments = presign({
          terms,
          buyers: buyers.slice(tokens),
          count: Math.ceil((rate || 400) * (durationMs / 1000) * 2) + 100,
        })
        return runLoad({ port, path, concurrency: s.concurrency, durationMs, payments, expect: 'paid' })
      },
      credit: (durationMs) =>
        runLoad({
          port,
          path,
          concurrency: s.concurrency,
          durationMs,
          headers: { authorization: `Bearer ${bought[creditRuns++ % bought.length].token}` },
          expect: 'credit',
        }),
    }
    const results = {}
    for (const [kind, run] of Object.entries(kinds)) {
      const load = async (durationMs, rate) => {
        const result = await run(durationMs, rate)
        served[kind] += result.ok
        return result
      }
      const warm = await load(s.warmupMs)
      const rate = warm.rps
      const rounds = { closed: [], open: [] }
      let streamed = 0
      for (let round = 0; round < s.rounds[kind]; round++) {
        for (const side of round % 2 ? ['open', 'closed'] : ['closed', 'open']) {
          const live = side === 'open' ? openLive(port) : undefined
          await live?.opened
          // The server's own CPU per request: what the stream costs it, less moved by the machine's other load than req/s.
          const cpuBefore = await server.cpu()
          const run = await load(s.roundMs, rate)
          run.micros = ((await server.cpu()) - cpuBefore) / run.total
          if (live) {
            // Let the last events arrive before counting them.
            await new Promise((resolve) => setTimeout(resolve, 200))
            streamed += live.events
            live.close()
          }
          rounds[side].push(run)
        }
      }
      const rps = (list) => list.reduce((n, r) => n + r.ok, 0) / list.reduce((n, r) => n + r.elapsed, 0)
      const failed = [...rounds.open, ...rounds.closed].reduce((n, r) => n + r.failed, 0)
      results[kind] = {
        closed: rps(rounds.closed),
        open: rps(rounds.open),
        ratio: median(rounds.open.map((r, i) => r.rps / rounds.closed[i].rps)),
        ratios: rounds.open.map((r, i) => r.rps / rounds.closed[i].rps),
        closedMicros: median(rounds.closed.map((r) => r.micros)),
        openMicros: median(rounds.open.map((r) => r.micros)),
        failed,
        streamed,
        servedOpen: rounds.open.reduce((n, r) => n + r.ok, 0),
      }
      progress(
        `dashboard, ${kind}: closed ${results[kind].closed.toFixed(0)} req/s, stream open ${results[kind].open.toFixed(0)} req/s (×${results[kind].ratio.toFixed(3)}; rounds ${results[kind].ratios.map((r) => r.toFixed(2)).join(' ')}; server CPU ${results[kind].closedMicros.toFixed(0)} → ${results[kind].openMicros.toFixed(0)} µs/req), ${streamed} events streamed, ${failed} failed`,
      )
    }
    const received = (await chain.balanceOf(chain.payTo.address)) - receivedBefore
    let drawn = 0n
    for (const { token, available } of bought) drawn += available - (await creditLeft({ port, token }))
    const money = {
      paidOk: served.paid,
      received: received.toString(),
      creditOk: served.credit,
      drawn: drawn.toString(),
      matches: received === BigInt(served.paid) * price && drawn === BigInt(served.credit) * price,
    }
    progress(
      `dashboard, money: ${received} atomic units received for ${served.paid} paid 200s, ${drawn} drawn for ${served.credit} credit-funded 200s (price ${price}): ${money.matches ? 'match' : 'MISMATCH'}`,
    )
    return { concurrency: s.concurrency, rounds: s.rounds, roundMs: s.roundMs, target: 0.97, ...results, money }
  } finally {
    await server?.stop()
    await facilitator.stop()
  }
}

/** The section's lines for the report. */
export function dashboardLines(result) {
  if (!result) return []
  const line = (kind) => {
    const r = result[kind]
    const status = r.failed ? `invalid: ${r.failed} failed` : r.ratio >= result.target ? 'met' : 'not met'
    return `| ${kind} | ${r.closed.toFixed(0)} | ${r.open.toFixed(0)} | ×${r.ratio.toFixed(3)} | ${status} | ${r.closedMicros.toFixed(0)} → ${r.openMicros.toFixed(0)} | ${r.streamed} |`
  }
  return [
    `Dashboard: ${result.concurrency} callers, alternating rounds of ${result.roundMs} ms per side (paid ${result.rounds.paid}, credit ${result.rounds.credit}); target ≥ ${result.target}×.`,
    '',
    '| requests | stream closed (req/s) | stream open (req/s) | open / closed (median of rounds) | target | server CPU µs/req, closed → open | events streamed |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    line('paid'),
    line('credit'),
    '',
    `Money: ${result.money.received} atomic units received on chain for ${result.money.paidOk} paid 200s, ${result.money.drawn} drawn from credit for ${result.money.creditOk} credit-funded 200s: ${result.money.matches ? 'match' : 'MISMATCH'}.`,
  ]
}

/** The section's targets, for the targets table. */
export function dashboardTargets(result) {
  if (!result) return []
  return [
    ...['paid', 'credit'].map((kind) => ({
      id: `dashboard-${kind}`,
      target: `${kind} req/s with the dashboard's live stream open ≥ ${result.target}× closed`,
      measured: `${result[kind].ratio.toFixed(3)}×${result[kind].failed ? ` (${result[kind].failed} requests failed: not a measure of the stream)` : ''}`,
      met: result[kind].failed === 0 && result[kind].ratio >= result.target,
    })),
    {
      id: 'dashboard-money',
      target: 'dashboard section: paid 200s = USDC received ÷ price, credit-funded 200s = credit drawn ÷ price',
      measured: result.money.matches ? 'equal' : 'different',
      met: result.money.matches,
    },
  ]
}
