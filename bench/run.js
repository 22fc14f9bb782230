// npm run bench [-- --json] [-- --quick] [-- --only free,paid,verify,frameworks,credits,client,limits,gas,cluster,proxy,graphql] [-- --frameworks hono,node]
//   [-- --note "text for RESULTS.md"]
//
// --only runs some sections and prints them (bench/RESULTS.md is written by a run of all of them);
// BENCH_CPU_PROF=<dir> makes every server child write a V8 CPU profile there (its whole life);
// BENCH_CPU_PROF_RUNS=<dir> one profile per timed run (between the two CPU readings around it);
// BENCH_REDIS_URL=<url> the Redis of the limits and cluster sections (default redis://127.0.0.1:6379);
// BENCH_NGINX=<path> the proxy section's nginx (default /usr/sbin/nginx, installed with apt-get when missing);
// BENCH_DATABASE_URL=<url> the PostgreSQL of the cluster section (default postgres://root@127.0.0.1:5432/test;
//   a fresh schema per topology, dropped after it).
//
// One anvil, a fresh server child per scenario and concurrency, the load from this process. See RESULTS.md
// (written by this script, on a run of every section) for the method and the latest figures.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { registerNetwork } from '@402x/core'
import { startDevchain } from '@402x/devchain'
import { dashboardLines, dashboardTargets, runDashboard } from './dashboard.js'
import { graphqlTable, runGraphQL } from './graphql.js'
import { chainSnapshot } from './lib/chainState.js'
import { onInterrupt, startServer, stopAll } from './lib/children.js'
import { clusterSettings, runCluster } from './lib/cluster.js'
import { clusterTable, clusterTargets, gasTargets } from './lib/clusterReport.js'
import { dropSchemas } from './lib/clusterStores.js'
import { runCredits } from './lib/credits.js'
import { creditsTable, creditTargets } from './lib/creditsReport.js'
import { clientCostTable, measureClientCost } from './lib/facilitatorClientCost.js'
import { busyTable, dynamicPriceTable, frameworksTable, frameworkTarget } from './lib/frameworkReport.js'
import { frameworkNames, runFrameworks } from './lib/frameworks.js'
import { gasSettings, gasWalletsTable, runGasWallets } from './lib/gasWallets.js'
import { removeRedisKeys, runLimits } from './lib/limits.js'
import { limitsTable, limitTargets, redisCostLines } from './lib/limitsReport.js'
import { runLoad } from './lib/load.js'
import { fetchTerms, poolSize, presign } from './lib/payments.js'
import { cpuMsOf, findDescendant } from './lib/procCpu.js'
import { proxySettings, runProxy } from './lib/proxy.js'
import { stopProxyProcesses } from './lib/proxyProcesses.js'
import { proxyTable, proxyTargets } from './lib/proxyReport.js'
import { cpuTable, evaluateTargets, resultsMarkdown, runsTable, targetsTable } from './lib/report.js'
import { measureVerifyCost } from './lib/verifyCost.js'

// `node bench/run.js websocket [--quick] [--json]`: the websocket section alone (bench/websocket.js).
if (process.argv[2] === 'websocket') {
  const { runWebSocket, webSocketTable } = await import('./websocket.js')
  const result = await runWebSocket({ quick: process.argv.includes('--quick'), progress: (m) => console.error(m) })
  console.log(process.argv.includes('--json') ? JSON.stringify(result) : webSocketTable(result))
  process.exit(0)
}

const args = process.argv.slice(2)
const json = args.includes('--json')
const quick = args.includes('--quick')
/** The value after `--name`, or undefined. */
const option = (name) => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return undefined
  const value = args[i + 1]
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`)
  return value
}
const sections = [
  'free',
  'paid',
  'verify',
  'frameworks',
  'credits',
  'client',
  'limits',
  'gas',
  'cluster',
  'proxy',
  'dashboard',
  'graphql',
]
/** Sections that need no chain: measured first, before anvil starts. */
const chainless = ['client', 'limits', 'graphql']
// `node bench/run.js dashboard` is `--only dashboard`.
const named = args.filter((a) => sections.includes(a))
const only = option('only')?.split(',') ?? (named.length ? named : undefined)
for (const name of only ?? []) {
  if (!sections.includes(name)) throw new Error(`--only ${name}: choose from ${sections.join(', ')}`)
}
const wants = (section) => !only || only.includes(section)
const frameworks = option('frameworks')?.split(',') ?? frameworkNames
for (const name of frameworks) {
  if (!frameworkNames.includes(name)) throw new Error(`--frameworks ${name}: choose from ${frameworkNames.join(', ')}`)
}
const note = option('note')
const commandArgs = args.filter((a, i) => a !== '--note' && args[i - 1] !== '--note')

/** Callers of the framework comparison and of the credits section. */
const callers = 8
/** The free, paid and limits sections' callers. */
const concurrencies = [1, 8, 32]
const settings = {
  concurrencies,
  durationMs: quick ? 1500 : 5000,
  warmupMs: quick ? 500 : 1000,
  buyers: 16,
  price: '0.01',
  amount: '10000',
  verifyIterations: { ours: quick ? 1000 : 5000, viem: quick ? 300 : 2000 },
  /** The facilitator client's CPU per verify-and-settle pair (bench/lib/facilitatorClientCost.js), no chain. */
  client: { rounds: quick ? 3 : 21, roundMs: quick ? 500 : 1000, concurrencies: [1, 32], pacedRate: 250 },
  /** Free-route comparison: alternating rounds of baseline and 402x, each this long. */
  pairRounds: quick ? 3 : 7,
  pairRoundMs: quick ? 500 : 1000,
  /** Framework comparison (bench/lib/frameworks.js): one concurrency, facilitator over HTTP. */
  frameworks: {
    concurrency: callers,
    paidMs: quick ? 1500 : 2500,
    paidWarmupRequests: quick ? 100 : 200,
    paidWarmupMaxMs: quick ? 2000 : 4000,
    pacedMs: quick ? 1000 : 1500,
    /** Alternating rounds of `pacedMs` for the middleware's CPU with a stand-in facilitator. */
    standInRounds: quick ? 3 : 5,
    /** Before those rounds, each server's JIT warm-up: this many paid requests, closed loop, within a time bound. */
    jitWarmupRequests: quick ? 2000 : 5000,
    jitWarmupMaxMs: 15_000,
    /** The same with a busy server: closed loop at `busyConcurrency` callers, `busyRounds` rounds of `busyMs`. */
    busyConcurrency: 128,
    busyMs: quick ? 1000 : 1500,
    busyRounds: quick ? 3 : 5,
    unpaidWarmupMs: quick ? 300 : 400,
    unpaidRoundMs: quick ? 250 : 400,
    unpaidRounds: quick ? 2 : 3,
  },
  /**
   * Credits (bench/lib/credits.js): one Express route with no middleware, credit-funded and paid
   * exact, at the framework comparison's concurrency, all at one price. The top-up covers
   * every credit-funded request of a run (it is checked: a request short of credit fails).
   */
  credits: {
    price: '0.001',
    amount: '1000',
    topUp: '500',
    concurrency: callers,
    /**
     * Per scenario; no middleware and credit-funded take turns in this many rounds that add up
     * to it (short rounds: this machine's speed drifts within a second, and a pair's ratio is
     * only fair if both halves run at the same speed; many of them: single pairs range from
     * about 0.75 to 1.1 here, and the target's figure is their median).
     */
    durationMs: quick ? 1500 : 10_500,
    rounds: quick ? 5 : 21,
    warmupMs: quick ? 500 : 1000,
    paidWarmupRequests: quick ? 100 : 200,
    paidWarmupMaxMs: quick ? 2000 : 4000,
  },
  /**
   * Rate limits and API keys (bench/lib/limits.js): five servers per concurrency in alternating
   * rounds, as the free section's pair; limits that never trip; `store.consume()` timed alone.
   */
  limits: {
    concurrencies,
    rounds: quick ? 3 : 7,
    roundMs: quick ? 500 : 1000,
    warmupMs: quick ? 500 : 1000,
    maxRequests: 1e9,
    consumeCalls: quick ? 2000 : 5000,
    consumeWarmup: 500,
    /** At 1 caller, after the timed rounds: the Redis commands per request, counted with MONITOR this long. */
    monitorMs: 300,
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
  },
  /** Gas wallets (bench/lib/gasWallets.js). */
  gas: gasSettings(quick),
  /** Cluster (bench/lib/cluster.js): embedded, and 1 and 2 instances on PostgreSQL + Redis. */
  cluster: clusterSettings(quick),
  /** Proxy (bench/lib/proxy.js): the upstream direct, through 402x proxy (free, credit, paid) and through nginx. */
  proxy: proxySettings(quick),
}

const scenarios = [
  { id: 'baseline', label: 'a. baseline, no middleware', server: 'baseline.js', path: '/free' },
  { id: 'noop', label: "a'. baseline + one no-op Express middleware", server: 'noop.js', path: '/free' },
  {
    id: 'free',
    label: 'b. free route behind x402Middleware',
    server: '402x.js',
    path: '/free',
    config: { facilitatorUrl: 'http://127.0.0.1:9' },
  },
  { id: 'paid402x', label: 'c. paid exact, 402x', server: '402x.js', path: '/paid', paid: true },
  {
    id: 'paidOfficial',
    label: 'd. paid exact, @x402/express (reference)',
    server: 'official.js',
    path: '/paid',
    paid: true,
    config: { pollingInterval: 10 },
  },
  {
    id: 'paidOfficialNonceManager',
    label: "d'. paid exact, @x402/express + viem nonceManager",
    server: 'official.js',
    path: '/paid',
    paid: true,
    config: { nonceManager: true, pollingInterval: 10 },
  },
]

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const outDir = here('./out/')
const began = performance.now()
const progress = (message) =>
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`)

let chain
/** In every Redis key the limits section writes (its plan's name, its limits' prefix): removed after the run. */
const runId = `bench-${process.pid}-${Date.now().toString(36)}`
let limitsStarted = false
const cleanup = async () => {
  await stopAll()
  await stopProxyProcesses()
  await chain?.stop()
  if (limitsStarted) await removeRedisKeys(settings.limits.redisUrl, runId).catch(() => {})
  if (wants('cluster')) {
    await dropSchemas()
    await removeRedisKeys(settings.cluster.redisUrl, runId).catch(() => {})
  }
  rmSync(outDir, { recursive: true, force: true })
}
onInterrupt(cleanup)

/**
 * One scenario at one concurrency, on a fresh server. A paid run starts from the same chain
 * state as every other paid run (anvil snapshot): anvil slows down as its chain grows, and
 * otherwise later runs would pay for earlier ones.
 */
async function runOne(scenario, concurrency, context) {
  const { base, buyers, anvilPid } = context
  if (scenario.paid) await context.snapshot.restore()
  const ledger = `${outDir}ledger-${scenario.id}-${concurrency}.db`
  const server = await startServer(here(`./servers/${scenario.server}`), { ...base, ledger, ...scenario.config })
  try {
    const load = { port: server.port, path: scenario.path, concurrency }
    const terms = scenario.paid ? await fetchTerms(server.port, scenario.path) : undefined
    const paidBefore = scenario.paid ? await chain.balanceOf(chain.payTo.address) : 0n
    const warmupPayments = terms && presign({ terms, buyers, count: 150 + 40 * concurrency })
    const warmup = await runLoad({ ...load, durationMs: settings.warmupMs, payments: warmupPayments })
    const payments = terms && presign({ terms, buyers, count: poolSize(warmup, concurrency, settings.durationMs) })
    const cpuBefore = { server: cpuMsOf(server.pid), anvil: cpuMsOf(anvilPid), self: process.cpuUsage() }
    const result = await runLoad({ ...load, durationMs: settings.durationMs, payments })
    const self = process.cpuUsage(cpuBefore.self)
    const perRequest = (before, after) =>
      before === undefined || after === undefined || result.total === 0 ? null : (after - before) / result.total
    const cpu = {
      serverMs: perRequest(cpuBefore.server, cpuMsOf(server.pid)),
      anvilMs: perRequest(cpuBefore.anvil, cpuMsOf(anvilPid)),
      generatorMs: result.total ? (self.user + self.system) / 1000 / result.total : null,
    }
    // Every successful paid request (warm-up included) must have moved exactly the price.
    const received = scenario.paid ? (await chain.balanceOf(chain.payTo.address)) - paidBefore : 0n
    const settledOk = scenario.paid ? warmup.ok + result.ok : 0
    const run = {
      id: scenario.id,
      label: scenario.label,
      paid: scenario.paid === true,
      concurrency,
      ...result,
      failedPct: result.total ? (100 * result.failed) / result.total : 0,
      cpu,
      chainCheck: scenario.paid
        ? {
            successes: settledOk,
            received: received.toString(),
            matches: received === BigInt(settledOk) * BigInt(settings.amount),
          }
        : undefined,
    }
    progress(
      `${scenario.label} @${concurrency}: ${run.rps.toFixed(1)} req/s, p50 ${run.p50?.toFixed(2) ?? '—'} ms, p99 ${run.p99?.toFixed(2) ?? '—'} ms, ${run.failed} failed of ${run.total}${run.exhausted ? ' (payments used up before the time)' : ''}${run.chainCheck && !run.chainCheck.matches ? ' (ON-CHAIN MISMATCH)' : ''}`,
    )
    return run
  } finally {
    await server.stop()
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Free route vs unpaid baseline at one concurrency, with the same route behind a no-op
 * Express middleware for reference. The servers run at once (idle when not loaded) and take
 * turns in short alternating rounds (a, a', b, then b, a', a, …), so that drift in this
 * noisy machine hits all alike; the figures are medians over the rounds, and each ratio is
 * the median of the per-round ratios.
 */
async function runPair(concurrency, base) {
  const pair = scenarios.filter((s) => ['baseline', 'noop', 'free'].includes(s.id))
  const servers = []
  try {
    for (const scenario of pair) {
      const ledger = `${outDir}ledger-${scenario.id}-${concurrency}.db`
      servers.push(await startServer(here(`./servers/${scenario.server}`), { ...base, ledger, ...scenario.config }))
    }
    const load = (i, durationMs) => runLoad({ port: servers[i].port, path: '/free', concurrency, durationMs })
    for (const i of pair.keys()) await load(i, settings.warmupMs)
    const rounds = pair.map(() => [])
    for (let round = 0; round < settings.pairRounds; round++) {
      const order = round % 2 ? [...pair.keys()].reverse() : [...pair.keys()]
      for (const i of order) rounds[i].push(await load(i, settings.pairRoundMs))
    }
    const ratiosTo = (i, to) => rounds[i].map((r, k) => r.rps / rounds[to][k].rps)
    const summarize = (scenario, list) => {
      const total = list.reduce((n, r) => n + r.total, 0)
      const elapsed = list.reduce((n, r) => n + r.elapsed, 0)
      return {
        id: scenario.id,
        label: scenario.label,
        paid: false,
        concurrency,
        ok: list.reduce((n, r) => n + r.ok, 0),
        failed: list.reduce((n, r) => n + r.failed, 0),
        total,
        elapsed,
        rps: median(list.map((r) => r.rps)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        exhausted: false,
        reasons: [],
        failedPct: 0,
        cpu: { serverMs: null, anvilMs: null, generatorMs: null },
        rounds: list.length,
      }
    }
    const runs = pair.map((scenario, i) => summarize(scenario, rounds[i]))
    const [, noop, free] = runs
    noop.ratioToBaseline = median(ratiosTo(1, 0))
    free.ratioToBaseline = median(ratiosTo(2, 0))
    free.ratioToNoop = median(ratiosTo(2, 1))
    progress(
      `free route @${concurrency}: baseline ${runs[0].rps.toFixed(0)} req/s, behind a no-op middleware ${noop.rps.toFixed(0)} req/s (${noop.ratioToBaseline.toFixed(3)}), behind x402Middleware ${free.rps.toFixed(0)} req/s, median ratio ${free.ratioToBaseline.toFixed(3)} (${free.ratioToNoop.toFixed(3)} of the no-op's) over ${settings.pairRounds} paired rounds`,
    )
    return runs
  } finally {
    for (const s of servers) await s.stop()
  }
}

async function main() {
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const loadBefore = os.loadavg()[0]
  progress(
    `sections: ${sections.filter(wants).join(', ')}${wants('frameworks') ? ` (frameworks: ${frameworks.join(', ')})` : ''}; load average ${loadBefore.toFixed(2)} on ${os.availableParallelism()} CPUs`,
  )
  // No chain: measured first, while nothing else runs.
  let client
  if (wants('client')) {
    progress("measuring the facilitator client's CPU per verify-and-settle pair")
    client = await measureClientCost({ ...settings.client, progress })
  }
  let limits
  if (wants('limits')) {
    progress('rate limits and API keys, against the route with no middleware')
    limitsStarted = true
    limits = await runLimits({ settings, outDir, progress, runId })
  }
  let graphql
  if (wants('graphql')) {
    progress('GraphQL: a priced query paid by credit against the same server without 402x')
    graphql = await runGraphQL({ ...(quick ? { durationMs: 1000, warmupMs: 2000, rounds: 4 } : {}), progress })
  }
  if (!sections.some((section) => !chainless.includes(section) && wants(section))) {
    progress(`done (--only ${only.join(',')}: bench/RESULTS.md left as it was)`)
    const machine = { loadAverage: { before: loadBefore, after: os.loadavg()[0] }, node: process.version }
    if (json) {
      process.stdout.write(`${JSON.stringify({ command: commandOf(), machine, client, limits, graphql })}\n`)
      return
    }
    const parts = []
    if (client) parts.push(clientCostTable(client))
    if (limits) parts.push(limitsTable(limits), redisCostLines(limits).join('\n'), targetsTable(limitTargets(limits)))
    if (graphql) parts.push(graphqlTable(graphql))
    parts.push(
      `load average ${machine.loadAverage.before.toFixed(2)} before, ${machine.loadAverage.after.toFixed(2)} after`,
    )
    process.stdout.write(`\n${parts.join('\n\n')}\n`)
    return
  }
  progress('starting anvil and deploying USDC')
  chain = await startDevchain({ buyers: 0, gasWallets: 4 })
  const buyers = []
  for (let i = 0; i < settings.buyers; i++) buyers.push(await chain.newBuyer())
  progress(`devchain at ${chain.rpcUrl}, USDC ${chain.usdc}, ${buyers.length} funded buyers`)
  registerNetwork(chain.networkEntry)

  let verify
  if (wants('verify')) {
    progress('measuring the CPU cost of one signature verification')
    verify = await measureVerifyCost({
      buyer: buyers[0],
      chainId: 31337,
      iterations: settings.verifyIterations,
      requirements: {
        scheme: 'exact',
        network: chain.network,
        amount: settings.amount,
        asset: chain.usdc,
        payTo: chain.payTo.address,
        maxTimeoutSeconds: 60,
        extra: chain.eip712,
      },
    })
    progress(
      `verification: ours ${verify.oursMicros.toFixed(1)} µs (${verify.backend}), viem recover ${verify.viemRecoverMicros.toFixed(0)} µs, viem verifyTypedData ${verify.viemVerifyMicros.toFixed(0)} µs`,
    )
  }

  const base = {
    rpcUrl: chain.rpcUrl,
    network: chain.network,
    usdc: chain.usdc,
    eip712: chain.eip712,
    payTo: chain.payTo.address,
    facilitatorKey: chain.facilitator.privateKey,
    price: settings.price,
    amount: settings.amount,
  }
  const context = {
    chain,
    base,
    buyers,
    settings,
    outDir,
    progress,
    anvilPid: findDescendant('anvil'),
    snapshot: await chainSnapshot(chain.rpcUrl, {
      onDropped: (count) =>
        progress(`the last run left ${count} transaction(s) unmined in anvil's pool: dropped before the next run`),
    }),
  }
  const runs = []
  if (wants('free')) {
    for (const concurrency of settings.concurrencies) runs.push(...(await runPair(concurrency, base)))
  }
  if (wants('paid')) {
    for (const scenario of scenarios.filter((s) => s.paid)) {
      for (const concurrency of settings.concurrencies) runs.push(await runOne(scenario, concurrency, context))
    }
  }
  const frameworkResults = wants('frameworks') ? await runFrameworks(context, frameworks) : []
  const credits = wants('credits') ? await runCredits(context) : undefined
  const gas = wants('gas') ? await runGasWallets(context) : undefined
  const cluster = wants('cluster') ? await runCluster({ ...context, runId }) : undefined
  const proxy = wants('proxy') ? await runProxy(context) : undefined
  const dashboard = wants('dashboard') ? await runDashboard(context) : undefined
  const checks = [
    ...runs.filter((r) => r.chainCheck).map((r) => r.chainCheck),
    ...frameworkResults.flatMap((f) => Object.values(f.variants ?? {}).map((v) => v.paid?.chainCheck)).filter(Boolean),
    ...(gas ? [...gas.paid, ...gas.settle].map((r) => r.check) : []),
  ]
  const balance = {
    paidOk: checks.reduce((n, c) => n + c.successes, 0),
    price: settings.amount,
    received: checks.reduce((n, c) => n + BigInt(c.received), 0n).toString(),
    matches: checks.every((c) => c.matches),
    // The runs whose payee total differs from their successes, by name.
    mismatched: [
      ...runs.filter((r) => r.chainCheck && !r.chainCheck.matches).map((r) => `${r.label} @${r.concurrency}`),
      ...frameworkResults.flatMap((f) =>
        Object.entries(f.variants ?? {})
          .filter(([, v]) => v.paid?.chainCheck && !v.paid.chainCheck.matches)
          .map(([kind]) => `${f.framework}, price ${kind}`),
      ),
    ],
  }
  const targets = [
    ...evaluateTargets(runs, verify),
    ...frameworkTarget(frameworkResults),
    ...creditTargets(credits),
    ...limitTargets(limits),
    ...clusterTargets(cluster),
    ...gasTargets(gas),
    ...dashboardTargets(dashboard),
    ...proxyTargets(proxy),
  ]
  const result = {
    command: commandOf(),
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] },
    },
    ...(note ? { note } : {}),
    settings: {
      concurrencies: settings.concurrencies,
      durationMs: settings.durationMs,
      warmupMs: settings.warmupMs,
      buyers: settings.buyers,
      price: settings.price,
      frameworks: settings.frameworks,
      credits: settings.credits,
      limits: settings.limits,
    },
    ...(verify ? { verify: { ...verify, iterations: settings.verifyIterations } } : {}),
    runs,
    frameworks: frameworkResults,
    ...(credits ? { credits } : {}),
    ...(client ? { client } : {}),
    ...(limits ? { limits } : {}),
    ...(gas ? { gas } : {}),
    ...(cluster ? { cluster } : {}),
    ...(proxy ? { proxy } : {}),
    ...(dashboard ? { dashboard } : {}),
    targets,
    balance,
    elapsedSeconds: (performance.now() - began) / 1000,
  }
  // RESULTS.md holds a run of every section; a partial run (--only) only prints. Its
  // "## History" section (earlier runs, what each change cut) is kept across rewrites.
  if (!only)
    writeFileSync(here('./RESULTS.md'), `${resultsMarkdown(result).trimEnd()}\n${keptHistory(here('./RESULTS.md'))}`)
  progress(
    `done in ${result.elapsedSeconds.toFixed(0)} s${only ? ' (--only: bench/RESULTS.md left as it was)' : '; wrote bench/RESULTS.md'}`,
  )
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  const parts = []
  if (runs.length) parts.push(runsTable(runs), cpuTable(runs))
  if (verify) parts.push(`verification: ${targets.find((t) => t.id === 'verify-cpu')?.measured}`)
  if (frameworkResults.length)
    parts.push(frameworksTable(frameworkResults), busyTable(frameworkResults), dynamicPriceTable(frameworkResults))
  if (credits) parts.push(creditsTable(credits))
  if (client) parts.push(clientCostTable(client))
  if (limits) parts.push(limitsTable(limits), redisCostLines(limits).join('\n'))
  if (graphql) parts.push(graphqlTable(graphql))
  if (gas) parts.push(gasWalletsTable(gas))
  if (cluster) parts.push(clusterTable(cluster))
  if (proxy) parts.push(proxyTable(proxy))
  if (dashboard) parts.push(dashboardLines(dashboard).join('\n'))
  parts.push(targetsTable(targets))
  // The throughput and framework sections' paid runs (the dashboard's has its own line).
  if (checks.length)
    parts.push(
      `on-chain check: ${balance.received} atomic units received for ${balance.paidOk} successful paid requests: ${balance.matches ? 'match' : 'MISMATCH'}`,
    )
  process.stdout.write(`\n${parts.join('\n\n')}\n`)
}

try {
  await main()
} catch (error) {
  progress(`failed: ${error.stack ?? error}`)
  process.exitCode = 1
} finally {
  await cleanup()
}

/** The command as it would be typed again; the note is shown on its own. */
function commandOf() {
  return `npm run bench${commandArgs.length ? ` -- ${commandArgs.join(' ')}` : ''}`
}

/** The "## History" section of the RESULTS.md about to be rewritten, or '' when it has none. */
function keptHistory(path) {
  if (!existsSync(path)) return ''
  const text = readFileSync(path, 'utf8')
  const at = text.indexOf('\n## History\n')
  return at === -1 ? '' : text.slice(at)
}
