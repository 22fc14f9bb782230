// The proxy section: one small upstream (bench/servers/upstream.js, a plain Node `http` server
// in its own process) reached five ways in one run: directly (the baseline); through
// `402x proxy` (the CLI as a user runs it, one process) on a free path, on a priced route drawn
// from credit (Bearer), and on the same route paid per request with x402 `exact` (pre-signed,
// settled on anvil by a facilitator child); and through Debian's nginx as a plain reverse proxy.
// The five take turns in short alternating rounds at the same concurrency and for the same
// time, so this machine's drift hits all alike; each ratio is the median of the per-round
// ratios. After the rounds the money is checked: the credit drawn, the payee's USDC and the
// ledger's settled rows against the 200s served, and what reached the upstream against them.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServer } from './children.js'
import { ledgerPayments } from './clusterStores.js'
import { runLoad } from './load.js'
import { buyCredit, creditLeft, fetchTerms, poolSize, presign } from './payments.js'
import { cpuMsOf } from './procCpu.js'
import { ensureNginx, removeTempDir, startNginx, startProxyCli, tempDir, treeCpuMs } from './proxyProcesses.js'

const script = (name) => fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url))

/** The rows, in the order of a round (reversed every other round). `?row=` lets the upstream count them apart. */
export const proxyRows = [
  { id: 'direct', label: 'upstream, direct (baseline)', path: '/api/data?row=direct', via: 'upstream' },
  { id: 'free', label: '402x proxy, free path', path: '/free?row=free', via: 'proxy' },
  {
    id: 'credit',
    label: '402x proxy, credit-funded (Bearer)',
    path: '/api/data?row=credit',
    via: 'proxy',
    expect: 'credit',
  },
  { id: 'paid', label: '402x proxy, paid `exact` per request', path: '/api/data?row=paid', via: 'proxy', paid: true },
  { id: 'nginx', label: 'nginx, plain reverse proxy', path: '/api/data?row=nginx', via: 'nginx' },
]

/** The settings of the section (`settings.proxy`). */
export function proxySettings(quick) {
  return {
    concurrency: 8,
    rounds: quick ? 5 : 15,
    roundMs: quick ? 400 : 700,
    /** Per row before the rounds (the proxy's JIT warm), and for paid a number of payments within a time. */
    warmupMs: quick ? 700 : 2000,
    paidWarmupRequests: quick ? 100 : 200,
    paidWarmupMaxMs: quick ? 2000 : 4000,
    /** `GET /api/data` at $0.001, credit-funded from one $500 top-up, or paid `exact` per request. */
    price: '0.001',
    amount: '1000',
    topUp: '500',
    /**
     * One worker, as the proxy is one process (one event loop): on 2 CPUs shared with the load
     * generator and the upstream, a second worker would only take turns on the same cores.
     */
    nginxWorkers: 1,
  }
}

const median = (values) => {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (list.length === 0) return null
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}

/** `402x.yaml` for the proxy (JSON is YAML): every paywall setting named, none left to the environment. */
function proxyYaml({ upstreamPort, base, facilitatorUrl, ledger, price }) {
  return `${JSON.stringify(
    {
      upstream: `http://127.0.0.1:${upstreamPort}`,
      free: ['GET /free'],
      routes: { 'GET /api/data': Number(price) },
      payTo: base.payTo,
      network: base.network,
      asset: { address: base.usdc, eip712: base.eip712 },
      facilitator: facilitatorUrl,
      ledger,
      reconcileIntervalMs: 0,
    },
    null,
    2,
  )}\n`
}

/**
 * Runs the section. nginx is installed first if missing; when it cannot be had (or does not
 * start), its row says why and the rest still runs.
 *
 * @param context `{ chain, buyers, base, settings, outDir, snapshot, progress }`, as for the
 *   credits and cluster sections.
 */
export async function runProxy(context) {
  const { settings, chain, buyers, base, outDir, snapshot, progress } = context
  const s = settings.proxy
  const nginx = await ensureNginx(progress)
  if (nginx.error) progress(`proxy: no nginx row: ${nginx.error}`)
  await snapshot.restore()
  const dir = tempDir()
  const started = {}
  try {
    started.upstream = await startServer(script('upstream'), {})
    // A fresh facilitator: its gas wallet's nonce cache must not outlive the revert.
    started.facilitator = await startServer(script('facilitator'), base)
    const ledger = `${outDir}ledger-proxy.db`
    const config = join(dir, '402x.yaml')
    writeFileSync(
      config,
      proxyYaml({
        upstreamPort: started.upstream.port,
        base,
        facilitatorUrl: `http://127.0.0.1:${started.facilitator.port}`,
        ledger,
        price: s.price,
      }),
    )
    started.proxy = await startProxyCli({ config, cwd: dir })
    if (!nginx.error) {
      try {
        started.nginx = await startNginx({
          binary: nginx.binary,
          dir: join(dir, 'nginx'),
          upstreamPort: started.upstream.port,
          workers: s.nginxWorkers,
        })
      } catch (error) {
        nginx.error = `nginx did not start: ${error.message.split('\n').slice(0, 3).join(' ').replace(/:\s*$/, '')}`
        progress(`proxy: no nginx row: ${nginx.error}`)
      }
    }
    progress(
      `proxy: upstream :${started.upstream.port}, 402x proxy ${started.proxy.url} (pid ${started.proxy.pid})${started.nginx ? `, ${nginx.version} :${started.nginx.port} (${s.nginxWorkers} worker)` : ''}`,
    )
    const result = await measure({ started, s, chain, buyers, ledger, progress })
    return { ...settingsOf(s), nginx: { ...nginx, workers: s.nginxWorkers }, ...result }
  } finally {
    await started.nginx?.stop()
    await started.proxy?.stop()
    await started.facilitator?.stop()
    await started.upstream?.stop()
    removeTempDir(dir)
  }
}

const settingsOf = (s) => ({
  concurrency: s.concurrency,
  rounds: s.rounds,
  roundMs: s.roundMs,
  warmupMs: s.warmupMs,
  price: s.price,
  amount: s.amount,
  topUp: s.topUp,
})

/** The warm-up, the rounds and the checks, once every process is up. */
async function measure({ started, s, chain, buyers, ledger, progress }) {
  const { upstream, proxy } = started
  const rows = proxyRows.filter((row) => row.via !== 'nginx' || started.nginx)
  const portOf = { upstream: upstream.port, proxy: proxy.port, nginx: started.nginx?.port }
  const bought = await buyCredit({ port: proxy.port, amount: s.topUp, buyer: buyers[0] })
  const paidRow = rows.find((row) => row.paid)
  const terms = await fetchTerms(proxy.port, paidRow.path)
  const paidBefore = await chain.balanceOf(chain.payTo.address)
  const nginxPids = started.nginx?.pids() ?? []
  const loadOf = (row) => ({
    port: portOf[row.via],
    path: row.path,
    concurrency: s.concurrency,
    ...(row.expect ? { expect: row.expect } : {}),
    ...(row.id === 'credit' ? { headers: { authorization: `Bearer ${bought.token}` } } : {}),
  })
  /**
   * CPU µs so far: the upstream, the proxy and nginx from /proc (10 ms ticks: summed over the
   * rounds), this process from `process.cpuUsage()`. No IPC probe: an interrupt stops the
   * upstream under a running round, and a probe would then write to a closed channel.
   */
  const cpuNow = () => {
    const self = process.cpuUsage()
    return {
      upstream: (cpuMsOf(upstream.pid) ?? Number.NaN) * 1000,
      proxy: (cpuMsOf(proxy.pid) ?? Number.NaN) * 1000,
      nginx: nginxPids.length ? treeCpuMs(nginxPids) * 1000 : Number.NaN,
      generator: self.user + self.system,
    }
  }
  const served = Object.fromEntries(rows.map((row) => [row.id, 0]))
  const warmup = {}
  for (const row of rows) {
    const payments = row.paid ? presign({ terms, buyers, count: s.paidWarmupRequests }) : undefined
    warmup[row.id] = await runLoad({
      ...loadOf(row),
      durationMs: row.paid ? s.paidWarmupMaxMs : s.warmupMs,
      payments,
    })
    served[row.id] += warmup[row.id].ok
    const w = warmup[row.id]
    if (w.failed) progress(`proxy, ${row.label}: warm-up ${w.failed} failed of ${w.total} (${reasonsOf(w.reasons)})`)
  }
  const rounds = Object.fromEntries(rows.map((row) => [row.id, []]))
  for (let round = 0; round < s.rounds; round++) {
    for (const row of round % 2 ? [...rows].reverse() : rows) {
      const payments = row.paid
        ? presign({ terms, buyers, count: poolSize(warmup.paid, s.concurrency, s.roundMs) })
        : undefined
      const before = cpuNow()
      const r = await runLoad({ ...loadOf(row), durationMs: s.roundMs, payments })
      const after = cpuNow()
      const used = (key) => after[key] - before[key]
      r.cpu = {
        front: row.via === 'upstream' ? null : used(row.via),
        upstream: used('upstream'),
        generator: used('generator'),
      }
      rounds[row.id].push(r)
      served[row.id] += r.ok
    }
  }
  const summary = Object.fromEntries(rows.map((row) => [row.id, summarize(row, rounds[row.id], warmup[row.id])]))
  const ratio = (a, b) => (rounds[a] && rounds[b] ? median(rounds[a].map((r, k) => r.rps / rounds[b][k].rps)) : null)
  const ratios = {
    freeVsDirect: ratio('free', 'direct'),
    creditVsDirect: ratio('credit', 'direct'),
    paidVsDirect: ratio('paid', 'direct'),
    nginxVsDirect: ratio('nginx', 'direct'),
    freeVsNginx: ratio('free', 'nginx'),
    creditVsNginx: ratio('credit', 'nginx'),
  }
  for (const row of rows) {
    summary[row.id].ratioToDirect = row.id === 'direct' ? 1 : ratio(row.id, 'direct')
    summary[row.id].ratioToNginx = started.nginx ? (row.id === 'nginx' ? 1 : ratio(row.id, 'nginx')) : null
  }
  const money = await checkMoney({
    s,
    served,
    rows,
    summary,
    warmup,
    spent: bought.available - (await creditLeft({ port: proxy.port, token: bought.token })),
    received: (await chain.balanceOf(chain.payTo.address)) - paidBefore,
    // The route's payments, whatever the ledger keeps of the query (credit draws are tabs, not payments).
    ledger: await ledgerPayments({ ledger }, '/api/data%'),
    counts: await upstreamCounts(upstream.port),
  })
  progress(
    `proxy: ${rows.map((row) => `${row.id} ${summary[row.id].rps.toFixed(0)} req/s`).join(', ')}; credit ÷ direct ${fmt(ratios.creditVsDirect)}, free ÷ nginx ${fmt(ratios.freeVsNginx)}, credit ÷ nginx ${fmt(ratios.creditVsNginx)}; money errors ${money.errors}, non-2xx ${money.failed}${money.notes.length ? ` (${money.notes.join('; ')})` : ''}`,
  )
  // What the proxy and nginx logged (warnings, errors): nothing, in a clean run.
  const nginxLog = started.nginx?.errorLog().trim()
  const proxyLog = proxy
    .output()
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('{'))
  return {
    rows: summary,
    ratios,
    money,
    ...(proxyLog.length ? { proxyLog: proxyLog.slice(-5) } : {}),
    ...(nginxLog ? { nginxErrorLog: nginxLog.split('\n').slice(-5) } : {}),
  }
}

const fmt = (v) => (v === null ? '—' : `${v.toFixed(3)}×`)
const reasonsOf = (reasons) =>
  Object.entries(reasons)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ')

/** What reached the upstream, per row (`GET /__bench/counts`, straight to it). */
async function upstreamCounts(port) {
  const res = await fetch(`http://127.0.0.1:${port}/__bench/counts`, { signal: AbortSignal.timeout(10_000) })
  return res.json()
}

/** A row's rounds as one: req/s over all of them, latency the median of the rounds', CPU per request over all. */
function summarize(row, list, warmup) {
  const sum = (pick) => list.reduce((n, r) => n + pick(r), 0)
  const ok = sum((r) => r.ok)
  const total = sum((r) => r.total)
  const elapsed = sum((r) => r.elapsed)
  const perRequest = (key) => {
    const used = sum((r) => r.cpu[key] ?? Number.NaN)
    return total && Number.isFinite(used) ? used / total : null
  }
  const reasons = {}
  for (const r of [warmup, ...list]) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
  return {
    id: row.id,
    label: row.label,
    ok,
    failed: sum((r) => r.failed),
    total,
    elapsed,
    warmup: { ok: warmup.ok, failed: warmup.failed },
    rps: elapsed ? ok / elapsed : 0,
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    cpuMicros: { front: perRequest('front'), upstream: perRequest('upstream'), generator: perRequest('generator') },
    exhausted: list.some((r) => r.exhausted),
    reasons,
    roundsRps: list.map((r) => r.rps),
  }
}

/**
 * Money errors (the target is 0): each price's worth of credit drawn more or less than the
 * credit-funded 200s × price; each price's worth the payee received more or less than the paid
 * 200s; each paid 200 without its settled ledger row (or the reverse). Also, not money but
 * counted apart: every request not answered 2xx as expected (warm-ups included), each request
 * that reached the upstream more or less than the row's 200s, and each one that carried a
 * payment or a credit token to it.
 */
async function checkMoney({ s, served, rows, summary, spent, received, ledger, counts }) {
  const amount = BigInt(s.amount)
  const units = (diff) => Number(((diff < 0n ? -diff : diff) + amount - 1n) / amount)
  const creditOk = served.credit
  const paidOk = served.paid
  const credit = units(spent - BigInt(creditOk) * amount)
  const chainDiff = units(received - BigInt(paidOk) * amount)
  const rowsDiff = Math.abs(ledger.settled - paidOk)
  const ledgerAmount = units(ledger.settledAmount - BigInt(paidOk) * amount)
  const notes = []
  if (credit) notes.push(`credit drawn ${spent} for ${creditOk} × ${amount}`)
  if (chainDiff) notes.push(`payee received ${received} for ${paidOk} × ${amount}`)
  if (rowsDiff) notes.push(`ledger has ${ledger.settled} settled payments for ${paidOk} paid 200s`)
  if (ledgerAmount && !rowsDiff) notes.push(`ledger's settled total is ${ledger.settledAmount}`)
  const upstream = {}
  let upstreamErrors = 0
  let leaked = 0
  for (const row of rows) {
    const c = counts[row.id] ?? { requests: 0, leaked: 0, paidHeader: 0, consumerHeader: 0 }
    upstream[row.id] = { ...c, served: served[row.id] }
    upstreamErrors += Math.abs(c.requests - served[row.id])
    leaked += c.leaked
    if (c.requests !== served[row.id])
      notes.push(`the upstream got ${c.requests} ${row.id} requests for ${served[row.id]} 200s`)
    if (c.leaked) notes.push(`${c.leaked} ${row.id} requests reached the upstream with a payment or credit token`)
  }
  const failed = rows.reduce((n, row) => n + summary[row.id].failed + summary[row.id].warmup.failed, 0)
  return {
    errors: credit + chainDiff + rowsDiff + Math.max(ledgerAmount - rowsDiff, 0),
    failed,
    upstreamErrors,
    leaked,
    creditOk,
    spent: spent.toString(),
    paidOk,
    received: received.toString(),
    settledRows: ledger.settled,
    otherRows: ledger.other,
    upstream,
    notes,
  }
}
