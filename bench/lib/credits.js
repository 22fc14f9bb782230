// The credits section: on Express, `GET /api/data` with no middleware, paid from prepaid
// credit (`Authorization: Bearer <token>`), and paid `exact` per request, each on a fresh
// server child, at the same concurrency and for the same time in all, the load from this process.
// The credit is bought before the timed run with one real x402 payment
// (`POST /__402x/credits?amount=`); the credit-funded run itself never reaches the chain.
import { fileURLToPath } from 'node:url'
import { startServer } from './children.js'
import { measured } from './frameworks.js'
import { runLoad } from './load.js'
import { buyCredit, creditLeft, fetchTerms, poolSize, presign } from './payments.js'

const script = (name) => fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url))
const path = '/api/data'

/**
 * Runs the three scenarios: no middleware and credit-funded in alternating rounds (both
 * servers up, each idle while the other is loaded, so that the machine's drift hits both
 * alike), then paid `exact`. A scenario that fails is reported with its error, and the
 * others still run.
 *
 * @param context `{ chain, buyers, base, settings, outDir, snapshot, progress }`, as for
 *   the framework comparison; `settings.credits` holds the price, the top-up and the timings.
 */
export async function runCredits(context) {
  const { settings, progress } = context
  const s = settings.credits
  const config = { ...context.base, price: s.price, amount: s.amount }
  const labels = { baseline: 'no middleware', credit: 'credit-funded (Bearer)', paid: 'paid exact' }
  const runs = {}
  const show = (id) => {
    const r = runs[id]
    progress(
      `credits, ${r.label}: ${r.rps.toFixed(1)} req/s, p50 ${r.p50?.toFixed(2) ?? '—'} ms, p99 ${r.p99?.toFixed(2) ?? '—'} ms, ${r.failed} failed of ${r.total}, server ${r.cpuMicros?.toFixed(0) ?? '—'} µs CPU/req${r.check && !r.check.matches ? ` (${id === 'paid' ? 'ON-CHAIN' : 'CREDIT'} MISMATCH)` : ''}${Object.keys(r.reasons).length ? `; ${reasonList(r.reasons)}` : ''}`,
    )
  }
  const failed = (ids, error) => {
    for (const id of ids) {
      runs[id] = { label: labels[id], error: error.message.split('\n')[0] }
      progress(`credits, ${labels[id]}: failed: ${runs[id].error}`)
    }
  }
  let creditVsBaseline = null
  try {
    const pair = await runPair(config, s, context)
    runs.baseline = { label: labels.baseline, ...pair.baseline }
    runs.credit = { label: labels.credit, ...pair.credit }
    creditVsBaseline = pair.ratio
    show('baseline')
    show('credit')
    progress(`credits: credit-funded ÷ no middleware, median of ${pair.rounds} paired rounds: ${pair.ratio.toFixed(3)}`)
  } catch (error) {
    failed(['baseline', 'credit'], error)
  }
  try {
    runs.paid = { label: labels.paid, ...(await runPaid(config, s, context)) }
    show('paid')
  } catch (error) {
    failed(['paid'], error)
  }
  return {
    price: s.price,
    amount: s.amount,
    topUp: s.topUp,
    concurrency: s.concurrency,
    durationMs: s.durationMs,
    warmupMs: s.warmupMs,
    rounds: s.rounds,
    runs,
    creditVsBaseline,
    creditVsPaid: runs.credit?.rps > 0 && runs.paid?.rps > 0 ? runs.credit.rps / runs.paid.rps : null,
  }
}

export const reasonList = (reasons) =>
  Object.entries(reasons)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ')

const median = (values) => {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (list.length === 0) return null
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}

/** One timed load's figures (not its payments). */
const figures = (r) => ({
  rps: r.rps,
  p50: r.p50,
  p99: r.p99,
  ok: r.ok,
  failed: r.failed,
  total: r.total,
  elapsed: r.elapsed,
  reasons: r.reasons,
  cpuMicros: r.cpuMicros,
})

/** Rounds of one scenario as one: req/s and CPU over all of them, latency the median of the rounds'. */
function combine(list) {
  const sum = (pick) => list.reduce((n, r) => n + pick(r), 0)
  const ok = sum((r) => r.ok)
  const total = sum((r) => r.total)
  const elapsed = sum((r) => r.elapsed)
  const cpu = sum((r) => (r.cpuMicros ?? Number.NaN) * r.total)
  const reasons = {}
  for (const r of list) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
  return {
    rps: ok / elapsed,
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    ok,
    failed: sum((r) => r.failed),
    total,
    elapsed,
    reasons,
    cpuMicros: total && Number.isFinite(cpu) ? cpu / total : null,
    roundsRps: list.map((r) => r.rps),
  }
}

/** A paywalled server and a fresh facilitator (its gas wallet's nonce cache must not outlive a revert). */
async function startPaywalled(config, { snapshot, outDir }, id) {
  await snapshot.restore()
  const facilitator = await startServer(script('facilitator'), config)
  try {
    const server = await startServer(script('credits'), {
      ...config,
      paywall: true,
      facilitatorUrl: `http://127.0.0.1:${facilitator.port}`,
      ledger: `${outDir}ledger-credits-${id}.db`,
    })
    return { server, facilitator }
  } catch (error) {
    await facilitator.stop()
    throw error
  }
}

/**
 * No middleware and credit-funded, each on its own fresh server. The credit is bought
 * before anything is timed (`s.topUp` dollars, one payment by a devchain buyer), then the
 * facilitator is stopped: nothing timed reaches the chain. Both are warmed, then loaded in
 * `s.rounds` alternating rounds (a b, b a, …) that add up to `s.durationMs` each. A
 * credit-funded request succeeds only with 200 and an X-402x-Receipt; afterwards the credit
 * drawn down must be exactly the price × the successful requests (warm-up included).
 */
async function runPair(config, s, context) {
  const baseline = await startServer(script('credits'), { ...config, paywall: false })
  let paywalled
  try {
    paywalled = await startPaywalled(config, context, 'credit')
    const { server } = paywalled
    const bought = await buyCredit({ port: server.port, amount: s.topUp, buyer: context.buyers[0] })
    await paywalled.facilitator.stop()
    const cells = [
      { id: 'baseline', server: baseline, load: { path, concurrency: s.concurrency } },
      {
        id: 'credit',
        server,
        load: {
          path,
          concurrency: s.concurrency,
          headers: { authorization: `Bearer ${bought.token}` },
          expect: 'credit',
        },
      },
    ]
    const warmed = {}
    for (const cell of cells) {
      warmed[cell.id] = await runLoad({ port: cell.server.port, ...cell.load, durationMs: s.warmupMs })
    }
    const rounds = { baseline: [], credit: [] }
    const roundMs = s.durationMs / s.rounds
    for (let round = 0; round < s.rounds; round++) {
      for (const cell of round % 2 ? [...cells].reverse() : cells) {
        rounds[cell.id].push(await measured(cell.server, { ...cell.load, durationMs: roundMs }))
      }
    }
    const spent = bought.available - (await creditLeft({ port: server.port, token: bought.token }))
    const credit = combine(rounds.credit)
    const successes = warmed.credit.ok + credit.ok
    return {
      baseline: combine(rounds.baseline),
      credit: {
        ...credit,
        check: {
          successes,
          bought: bought.available.toString(),
          spent: spent.toString(),
          matches: spent === BigInt(successes) * BigInt(s.amount),
        },
      },
      ratio: median(rounds.credit.map((r, i) => r.rps / rounds.baseline[i].rps)),
      rounds: s.rounds,
    }
  } finally {
    await baseline.stop()
    await paywalled?.server.stop()
    await paywalled?.facilitator.stop()
  }
}

/** Paid `exact` per request, as in the framework comparison: pre-signed payments, settled on chain and checked there. */
async function runPaid(config, s, context) {
  const { chain, buyers } = context
  const { server, facilitator } = await startPaywalled(config, context, 'paid')
  try {
    const load = { port: server.port, path, concurrency: s.concurrency }
    const terms = await fetchTerms(server.port, path)
    const paidBefore = await chain.balanceOf(chain.payTo.address)
    const warmup = await runLoad({
      ...load,
      durationMs: s.paidWarmupMaxMs,
      payments: presign({ terms, buyers, count: s.paidWarmupRequests }),
    })
    const payments = presign({ terms, buyers, count: poolSize(warmup, s.concurrency, s.durationMs) })
    const result = await measured(server, { path, concurrency: s.concurrency, durationMs: s.durationMs, payments })
    const received = (await chain.balanceOf(chain.payTo.address)) - paidBefore
    const successes = warmup.ok + result.ok
    return {
      ...figures(result),
      exhausted: result.exhausted,
      check: {
        successes,
        received: received.toString(),
        matches: received === BigInt(successes) * BigInt(s.amount),
      },
    }
  } finally {
    await server.stop()
    await facilitator.stop()
  }
}
