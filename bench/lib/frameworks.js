// The framework comparison: for each of Express, Hono, Fastify and plain Node `http`, the
// same routes with no middleware and behind 402x's adapter for that framework, the facilitator
// in its own process over HTTP. It measures paid `exact` req/s beside the unpaid route, the
// server process's own CPU per paid request (the chain work is in the facilitator's and
// anvil's processes, not in it), and what a price function costs (fixed, sync, async).
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { startServer } from './children.js'
import { runLoad } from './load.js'
import { fetchTerms, poolSize, presign } from './payments.js'
import { cpuMsOf } from './procCpu.js'

export const frameworkNames = ['express', 'hono', 'fastify', 'node']
export const priceKinds = ['fixed', 'sync', 'async']

const script = (name) => fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url))

const median = (values) => {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (list.length === 0) return null
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}

/** A free TCP port on 127.0.0.1, so that a restarted facilitator keeps the URL the servers know. */
async function freePort() {
  const server = net.createServer()
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** One load against `server`, with the server's own CPU (µs) per request over it. */
export async function measured(server, load) {
  const before = await server.cpu()
  const result = await runLoad({ port: server.port, ...load })
  const used = (await server.cpu()) - before
  return { ...result, cpuMicros: result.total ? used / result.total : null }
}

/**
 * Runs the comparison for `names` (default: all four frameworks).
 *
 * @param context `{ chain, buyers, base, settings, outDir, snapshot, anvilPid, progress }`:
 *   `base` is the server config every child gets (chain, USDC, payTo, price), `snapshot`
 *   restores the chain before each paid run, `settings.frameworks` the timings.
 */
export async function runFrameworks(context, names = frameworkNames) {
  const facilitatorPort = await freePort()
  const results = []
  for (const [i, name] of names.entries()) {
    context.progress(`framework ${i + 1} of ${names.length}: ${name}`)
    try {
      results.push(await runFramework(name, { ...context, facilitatorPort }))
    } catch (error) {
      context.progress(`${name}: failed: ${error.message}`)
      results.push({ framework: name, error: error.message.split('\n')[0] })
    }
  }
  return results
}

async function runFramework(name, context) {
  const { base, settings, outDir, progress, facilitatorPort } = context
  const s = settings.frameworks
  const facilitatorUrl = `http://127.0.0.1:${facilitatorPort}`
  const servers = []
  const start = async (config) => {
    const server = await startServer(script(name), { ...base, ...config })
    servers.push(server)
    return server
  }
  try {
    // One server per kind of price, all running at once (each idle while another is loaded).
    // A kind the paywall refuses at start-up is reported, and the others still run.
    const variant = async (kind) => {
      const ledger = `${outDir}ledger-${name}-${kind}.db`
      try {
        return { server: await start({ paywall: true, priceKind: kind, facilitatorUrl, ledger }) }
      } catch (error) {
        const thrown = /^\w*Error: (.*)$/m.exec(error.message)?.[1] ?? error.message.split('\n')[0]
        const failed = { error: `${kind}: the server did not start: ${thrown.slice(0, 200)}` }
        progress(`${name}, price ${failed.error}`)
        return failed
      }
    }
    const [baseline, ...started] = await Promise.all([start({ paywall: false }), ...priceKinds.map(variant)])
    const variants = Object.fromEntries(priceKinds.map((kind, i) => [kind, started[i]]))
    const unpaid = await runUnpaid(name, baseline, variants, s, progress)
    for (const kind of priceKinds) {
      if (!variants[kind].server) continue
      try {
        variants[kind].paid = await runPaid(name, kind, variants[kind].server, context)
      } catch (error) {
        variants[kind].paid = { error: error.message.split('\n')[0] }
        progress(`${name}, price ${kind}: paid run failed: ${variants[kind].paid.error}`)
      }
      // The same framework with no middleware, at the paid run's pace and with the same
      // request bytes (the payment header is ignored): what the framework alone costs.
      if (kind === 'fixed' && variants.fixed.paid?.rps > 0) {
        const payments = variants.fixed.paid.payments
        unpaid.paced = await measured(baseline, {
          path: '/paid',
          concurrency: s.concurrency,
          durationMs: s.pacedMs,
          payments,
          expect: 200,
          rate: variants.fixed.paid.rps,
        })
        progress(
          `${name}: no middleware at the paid pace (${unpaid.paced.rps.toFixed(0)} req/s, payment headers ignored): ${unpaid.paced.cpuMicros.toFixed(1)} µs CPU/req`,
        )
        if (name === 'node') {
          unpaid.floor = await measureFloor(base, s, { rate: variants.fixed.paid.rps, payments })
          progress(
            `the paid flow's floor (decode, /verify, /settle, answer; Node \`http\`, same pace): ${unpaid.floor.cpuMicros.toFixed(1)} µs CPU/req, ${(unpaid.floor.cpuMicros - unpaid.paced.cpuMicros).toFixed(1)} µs above no middleware${unpaid.floor.failed ? `; ${unpaid.floor.failed} FAILED` : ''}`,
          )
        }
      }
    }
    return summarize(name, unpaid, variants)
  } finally {
    for (const server of servers) await server.stop()
  }
}

/**
 * The floor under the middleware-CPU target: a plain Node `http` server (`floor.js`) doing only
 * what any x402 middleware with a facilitator at a URL must (decode the payment, `/verify`,
 * `/settle`, answer with the receipt) against a stand-in facilitator (`echo.js`, answering
 * after 3 ms and 15 ms), at the paid run's pace with its payment headers.
 */
async function measureFloor(base, s, { rate, payments }) {
  const echo = await startServer(script('echo'), { ...base, verifyMs: 3, settleMs: 15 })
  try {
    const floor = await startServer(script('floor'), { ...base, echoPort: echo.port })
    try {
      const load = { path: '/paid', concurrency: s.concurrency, payments, expect: 200, rate }
      await runLoad({ port: floor.port, ...load, durationMs: s.unpaidWarmupMs })
      const result = await measured(floor, { ...load, durationMs: s.pacedMs })
      return { rps: result.rps, cpuMicros: result.cpuMicros, total: result.total, failed: result.failed }
    } finally {
      await floor.stop()
    }
  } finally {
    await echo.stop()
  }
}

/**
 * The paths that never reach the chain, in alternating rounds over the servers (so the
 * machine's drift hits all alike): the unpaid route with no middleware, and on each paywall
 * the free route, the 402 of the paid route, and (function prices) a price of 0.
 */
async function runUnpaid(name, baseline, variants, s, progress) {
  const cells = [{ key: 'baseline', server: baseline, path: '/paid', expect: 200 }]
  for (const kind of priceKinds) {
    const server = variants[kind].server
    if (!server) continue
    cells.push({ key: `${kind}.free`, server, path: '/free', expect: 200 })
    cells.push({ key: `${kind}.required`, server, path: '/paid', expect: 402 })
    if (kind !== 'fixed') cells.push({ key: `${kind}.freeFn`, server, path: '/free-fn', expect: 200 })
  }
  const load = (cell, durationMs) =>
    measured(cell.server, { path: cell.path, concurrency: s.concurrency, durationMs, expect: cell.expect })
  for (const cell of cells) await load(cell, s.unpaidWarmupMs)
  const rounds = Object.fromEntries(cells.map((c) => [c.key, []]))
  for (let round = 0; round < s.unpaidRounds; round++) {
    const order = round % 2 ? [...cells].reverse() : cells
    for (const cell of order) rounds[cell.key].push(await load(cell, s.unpaidRoundMs))
  }
  const summary = {}
  for (const [key, list] of Object.entries(rounds)) {
    summary[key] = {
      rps: median(list.map((r) => r.rps)),
      cpuMicros: median(list.map((r) => r.cpuMicros)),
      failed: list.reduce((n, r) => n + r.failed, 0),
      total: list.reduce((n, r) => n + r.total, 0),
      reasons: Object.assign({}, ...list.map((r) => r.reasons)),
      // Per-round CPU, to take differences round by round.
      rounds: list.map((r) => r.cpuMicros),
    }
  }
  const show = (key) =>
    summary[key] ? `${summary[key].rps.toFixed(0)} req/s ${summary[key].cpuMicros.toFixed(1)} µs` : '—'
  const failed = Object.entries(summary).filter(([, v]) => v.failed > 0)
  progress(
    `${name}: no middleware ${show('baseline')}; free route ${show('fixed.free')}; 402 (fixed/sync/async) ${show('fixed.required')} / ${show('sync.required')} / ${show('async.required')}${failed.length ? `; FAILED: ${failed.map(([k, v]) => `${k} ${v.failed}× ${Object.keys(v.reasons).join(', ')}`).join('; ')}` : ''}`,
  )
  return summary
}

/**
 * One paid run on a running paywall server: the chain back to its snapshot, a fresh
 * facilitator process (its gas wallet's nonce cache must not outlive the revert), a warm-up,
 * then `concurrency` callers for `paidMs`. CPU is read around the timed part: the server's
 * own (inside it), the facilitator's (inside it) and anvil's (/proc).
 */
async function runPaid(name, kind, server, context) {
  const { chain, buyers, base, settings, snapshot, anvilPid, progress, facilitatorPort } = context
  const s = settings.frameworks
  await snapshot.restore()
  const facilitator = await startServer(script('facilitator'), { ...base, port: facilitatorPort })
  try {
    const load = { port: server.port, path: '/paid', concurrency: s.concurrency }
    const terms = await fetchTerms(server.port, '/paid')
    const paidBefore = await chain.balanceOf(chain.payTo.address)
    // Warmed by a number of paid requests (within a time bound), not a time: the paid path
    // (decoding, the facilitator client, the ledger) must be compiled before its CPU is read.
    const warmup = await runLoad({
      ...load,
      durationMs: s.paidWarmupMaxMs,
      payments: presign({ terms, buyers, count: s.paidWarmupRequests }),
    })
    const payments = presign({ terms, buyers, count: poolSize(warmup, s.concurrency, s.paidMs) })
    const before = { server: await server.cpu(), facilitator: await facilitator.cpu(), anvil: cpuMsOf(anvilPid) }
    const result = await runLoad({ ...load, durationMs: s.paidMs, payments })
    const after = { server: await server.cpu(), facilitator: await facilitator.cpu(), anvil: cpuMsOf(anvilPid) }
    const per = (used) => (result.total && Number.isFinite(used) ? used / result.total : null)
    const received = (await chain.balanceOf(chain.payTo.address)) - paidBefore
    const successes = warmup.ok + result.ok
    const run = {
      ...result,
      cpuMicros: per(after.server - before.server),
      facilitatorMicros: per(after.facilitator - before.facilitator),
      anvilMicros: per((after.anvil - before.anvil) * 1000),
      chainCheck: {
        successes,
        received: received.toString(),
        matches: received === BigInt(successes) * BigInt(settings.amount),
      },
      payments,
    }
    progress(
      `${name}, price ${kind}: paid ${run.rps.toFixed(1)} req/s, p50 ${run.p50?.toFixed(2) ?? '—'} ms, ${run.failed} failed of ${run.total}${
        run.failed
          ? ` (${Object.entries(run.reasons ?? {})
              .map(([k, v]) => `${v}× ${k}`)
              .join(', ')})`
          : ''
      }; server ${run.cpuMicros?.toFixed(0)} µs CPU/req (facilitator ${run.facilitatorMicros?.toFixed(0)} µs, anvil ${run.anvilMicros?.toFixed(0) ?? '—'} µs: excluded)${run.chainCheck.matches ? '' : ' (ON-CHAIN MISMATCH)'}`,
    )
    return run
  } finally {
    await facilitator.stop()
  }
}

/** The figures the report shows, and the differences against the fixed price, round by round. */
function summarize(name, unpaid, variants) {
  const paced = unpaid.paced
  const variantSummary = {}
  for (const kind of priceKinds) {
    const v = variants[kind]
    if (v.error) {
      variantSummary[kind] = { error: v.error }
      continue
    }
    const { payments: _omit, ...paid } = v.paid ?? {}
    const middlewareMicros =
      paid.cpuMicros !== undefined && paid.cpuMicros !== null && paced ? paid.cpuMicros - paced.cpuMicros : null
    variantSummary[kind] = {
      free: strip(unpaid[`${kind}.free`]),
      required: strip(unpaid[`${kind}.required`]),
      freeFn: strip(unpaid[`${kind}.freeFn`]),
      paid: v.paid ? { ...paid, middlewareMicros } : undefined,
    }
  }
  // Extra CPU of a price function: the median of the per-round differences (unpaid paths);
  // for the paid path, one run each, the difference of the two.
  const extra = {}
  for (const kind of ['sync', 'async']) {
    if (!variantSummary[kind] || variantSummary[kind].error || variantSummary.fixed.error) continue
    const diff = (a, b) => {
      const x = unpaid[a]?.rounds
      const y = unpaid[b]?.rounds
      return x && y ? median(x.map((v, i) => v - y[i])) : null
    }
    const paidKind = variantSummary[kind].paid?.cpuMicros
    const paidFixed = variantSummary.fixed.paid?.cpuMicros
    extra[kind] = {
      free: diff(`${kind}.free`, 'fixed.free'),
      required: diff(`${kind}.required`, 'fixed.required'),
      freeFn: diff(`${kind}.freeFn`, 'fixed.free'),
      paid: Number.isFinite(paidKind) && Number.isFinite(paidFixed) ? paidKind - paidFixed : null,
    }
  }
  return {
    framework: name,
    baseline: strip(unpaid.baseline),
    paced: paced ? { rps: paced.rps, cpuMicros: paced.cpuMicros, total: paced.total, failed: paced.failed } : null,
    floor:
      unpaid.floor && paced ? { ...unpaid.floor, aboveMicros: unpaid.floor.cpuMicros - paced.cpuMicros } : undefined,
    variants: variantSummary,
    extra,
  }
}

const strip = (cell) =>
  cell ? { rps: cell.rps, cpuMicros: cell.cpuMicros, failed: cell.failed, total: cell.total } : null
