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
  let baselineServer
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
    baselineServer = baseline
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
      // The middleware's own CPU, chain work excluded: the same framework with no middleware,
      // behind 402x with a stand-in facilitator (and, on Node, the flow's floor), in
      // alternating rounds at the paid run's pace.
      if (kind === 'fixed' && variants.fixed.paid?.rps > 0) {
        const standIn = await measureStandIn(name, baselineServer, context, variants.fixed.paid.rps)
        unpaid.paced = standIn.baseline
        unpaid.standIn = standIn.paywall
        unpaid.busy = standIn.busy
        if (standIn.floor) unpaid.floor = standIn.floor
        const busy = standIn.busy
        progress(
          `${name}: chain work excluded (stand-in facilitator, ${standIn.baseline.rps.toFixed(0)} req/s, median of ${standIn.rounds} rounds): no middleware ${standIn.baseline.cpuMicros.toFixed(0)} µs/req, 402x +${standIn.paywall.middlewareMicros.toFixed(0)} µs${standIn.floor ? `, the flow's floor +${standIn.floor.aboveMicros.toFixed(0)} µs` : ''}; busy (${busy.concurrency} callers, closed loop, ${busy.paywall.rps.toFixed(0)} req/s): 402x +${busy.paywall.middlewareMicros.toFixed(0)} µs${busy.floor ? `, the floor +${busy.floor.aboveMicros.toFixed(0)} µs` : ''}${standIn.failed ? `; ${standIn.failed} FAILED` : ''}`,
        )
      }
    }
    return summarize(name, unpaid, variants)
  } finally {
    for (const server of servers) await server.stop()
  }
}

/**
 * The middleware's own CPU per paid request with the chain work excluded. The facilitator is
 * a stand-in (`echo.js`: well-formed /verify and /settle answers after 3 ms and 15 ms, as a
 * facilitator waiting on the chain, with no chain), so the server measured does all of its
 * own work (decoding, checks, the facilitator's HTTP calls, the ledger, the receipt) and
 * nothing waits on anvil. In alternating rounds at the paid run's pace, with the same kind
 * of payment headers: the framework with no middleware, the same framework behind 402x, and
 * on Node the paid flow's floor (`floor.js`: only what any middleware with a facilitator at
 * a URL must do). Each figure is the median of the per-round differences.
 */
async function measureStandIn(name, baseline, context, rate) {
  const { base, buyers, settings, outDir } = context
  const s = settings.frameworks
  const started = []
  const start = async (script, config) => {
    const server = await startServer(script, { ...base, ...config })
    started.push(server)
    return server
  }
  try {
    const echo = await start(script('echo'), { verifyMs: 3, settleMs: 15 })
    const paywall = await start(script(name), {
      paywall: true,
      priceKind: 'fixed',
      facilitatorUrl: `http://127.0.0.1:${echo.port}`,
      ledger: `${outDir}ledger-${name}-standin.db`,
    })
    const floor = name === 'node' ? await start(script('floor'), { echoPort: echo.port }) : undefined
    const cells = [
      { key: 'baseline', server: baseline, expect: 200 },
      { key: 'paywall', server: paywall, expect: 'paid' },
      ...(floor ? [{ key: 'floor', server: floor, expect: 'paid' }] : []),
    ]
    const terms = await fetchTerms(paywall.port, '/paid')
    const perRun = (ms) => Math.ceil((rate * ms) / 1000) + 4 * s.concurrency
    const pool = presign({
      terms,
      buyers,
      count: cells.length * (perRun(s.unpaidWarmupMs * 2) + s.standInRounds * perRun(s.pacedMs)),
    })
    let next = 0
    const take = (count) => {
      const from = next
      next += count
      return pool.slice(from, next)
    }
    const load = (cell, durationMs) =>
      measured(cell.server, {
        path: '/paid',
        concurrency: s.concurrency,
        durationMs,
        payments: take(perRun(durationMs)),
        expect: cell.expect,
        rate,
      })
    // Warmed until V8 has compiled the paid path: a closed loop of `s.jitWarmupRequests` paid
    // requests on each server (the paced rounds alone make a few thousand requests, and a
    // server measured while V8 still compiles it pays for the compiler: 2026-12-05, 850 vs
    // 580 µs above no middleware at the pace, the difference on V8's background threads).
    for (const cell of cells) {
      await runLoad({
        port: cell.server.port,
        path: '/paid',
        concurrency: 32,
        durationMs: s.jitWarmupMaxMs,
        payments: presign({ terms, buyers, count: s.jitWarmupRequests }),
        expect: cell.expect,
      })
    }
    for (const cell of cells) await load(cell, s.unpaidWarmupMs * 2)
    const rounds = Object.fromEntries(cells.map((c) => [c.key, []]))
    for (let round = 0; round < s.standInRounds; round++) {
      for (const cell of round % 2 ? [...cells].reverse() : cells) rounds[cell.key].push(await load(cell, s.pacedMs))
    }
    const cpu = (key) => rounds[key].map((r) => r.cpuMicros)
    const above = (key) => median(cpu(key).map((v, i) => v - cpu('baseline')[i]))
    const figures = (key, from = rounds) => ({
      rps: median(from[key].map((r) => r.rps)),
      cpuMicros: median(from[key].map((r) => r.cpuMicros)),
      total: from[key].reduce((n, r) => n + r.total, 0),
      failed: from[key].reduce((n, r) => n + r.failed, 0),
      rounds: from[key].map((r) => r.cpuMicros),
    })
    const busy = await measureBusy({ cells, s, terms, buyers })
    const busyAbove = (key) => median(busy[key].map((r, i) => r.cpuMicros - busy[`${key}Baseline`][i].cpuMicros))
    return {
      rounds: s.standInRounds,
      failed: cells.reduce((n, c) => n + figures(c.key).failed + (busy[c.key] ? figures(c.key, busy).failed : 0), 0),
      baseline: figures('baseline'),
      paywall: { ...figures('paywall'), middlewareMicros: above('paywall') },
      floor: floor ? { ...figures('floor'), aboveMicros: above('floor') } : undefined,
      busy: {
        rounds: s.busyRounds,
        concurrency: s.busyConcurrency,
        paywall: { ...figures('paywall', busy), middlewareMicros: busyAbove('paywall') },
        paywallBaseline: figures('paywallBaseline', busy),
        floor: floor ? { ...figures('floor', busy), aboveMicros: busyAbove('floor') } : undefined,
        floorBaseline: floor ? figures('floorBaseline', busy) : undefined,
      },
    }
  } finally {
    for (const server of started) await server.stop()
  }
}

/**
 * The same figure for a busy server: `s.busyConcurrency` callers in a closed loop (each sends
 * its next request as soon as the last one is answered), so that the server is never idle
 * between requests and its CPU per request is its work, not the cost of waking up. The
 * paywall (and, on Node, the floor) runs first in each pair; then the same framework with no
 * middleware, paced at the rate the paywall reached in that round (a framework's CPU per
 * request depends on its request rate). Pairs alternate in order from round to round.
 */
async function measureBusy({ cells, s, terms, buyers }) {
  const byKey = Object.fromEntries(cells.map((c) => [c.key, c]))
  const out = { paywall: [], paywallBaseline: [], floor: [], floorBaseline: [] }
  const pairs = ['paywall', ...(byKey.floor ? ['floor'] : [])]
  // Signed before each run: as many as the last round's rate could use, with room to spare
  // (a run that uses them all ends early and is still measured over what it served).
  const lastRate = { paywall: 4000, floor: 6000 }
  for (let round = 0; round < s.busyRounds; round++) {
    for (const key of round % 2 ? [...pairs].reverse() : pairs) {
      const cell = byKey[key]
      const run = await measured(cell.server, {
        path: '/paid',
        concurrency: s.busyConcurrency,
        durationMs: s.busyMs,
        payments: presign({ terms, buyers, count: Math.ceil((lastRate[key] * 1.5 * s.busyMs) / 1000) }),
        expect: 'paid',
      })
      lastRate[key] = Math.max(run.rps, 500)
      const base = await measured(byKey.baseline.server, {
        path: '/paid',
        concurrency: s.busyConcurrency,
        durationMs: s.busyMs,
        payments: presign({ terms, buyers, count: Math.ceil((run.rps * s.busyMs) / 1000) + 4 * s.busyConcurrency }),
        expect: 200,
        rate: run.rps,
      })
      out[key].push(run)
      out[`${key}Baseline`].push(base)
    }
  }
  return out
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
    // On the chain: the paid run's server CPU less the framework's at the same pace (the
    // wake-ups differ: a real facilitator answers at other times than the stand-in).
    const chainMiddlewareMicros =
      paid.cpuMicros !== undefined && paid.cpuMicros !== null && paced ? paid.cpuMicros - paced.cpuMicros : null
    // The target's figure (chain work excluded), measured for the fixed price.
    const middlewareMicros = kind === 'fixed' ? (unpaid.standIn?.middlewareMicros ?? null) : null
    variantSummary[kind] = {
      free: strip(unpaid[`${kind}.free`]),
      required: strip(unpaid[`${kind}.required`]),
      freeFn: strip(unpaid[`${kind}.freeFn`]),
      paid: v.paid ? { ...paid, middlewareMicros, chainMiddlewareMicros } : undefined,
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
    standIn: unpaid.standIn,
    floor: unpaid.floor,
    busy: unpaid.busy,
    variants: variantSummary,
    extra,
  }
}

const strip = (cell) =>
  cell ? { rps: cell.rps, cpuMicros: cell.cpuMicros, failed: cell.failed, total: cell.total } : null
