// The cluster section (issue 18): the same seller (bench/servers/cluster.js) in three
// topologies, in one run: one instance embedded (SQLite, the rest in its process); one on
// PostgreSQL and Redis; two on PostgreSQL and Redis, the bench's load client taking them in
// turn request by request. In each, five routes of the same process take turns in short
// alternating rounds: the unpaid baseline (no middleware), paid `exact` (pre-signed, settled
// on anvil through one facilitator child), credit-funded (Bearer), key-authenticated (a
// tiered plan) and rate-limited (a free route), the limits never tripping. After the rounds,
// the money is checked: the ledger's settled payments and the payee's balance against the
// paid 200s seen, the credit drawn against the credit-funded 200s × price.
import { fileURLToPath } from 'node:url'
import { startServer } from './children.js'
import { freshSchema, ledgerPayments, postgresProblem } from './clusterStores.js'
import { removeRedisKeys } from './limits.js'
import { runLoad } from './load.js'
import { buyCredit, creditLeft, fetchTerms, poolSize, presign } from './payments.js'

const script = (name) => fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url))

export const clusterTopologies = [
  { id: 'embedded', label: '1 instance, embedded (SQLite, in-process)', instances: 1, networked: false },
  { id: 'pg1', label: '1 instance, PostgreSQL + Redis', instances: 1, networked: true },
  { id: 'pg2', label: '2 instances, PostgreSQL + Redis', instances: 2, networked: true },
]

export const clusterScenarios = [
  { id: 'baseline', label: 'unpaid baseline (no middleware)', path: '/free' },
  { id: 'paid', label: 'paid exact', path: '/paid', paid: true },
  { id: 'credit', label: 'credit-funded (Bearer)', path: '/credit', expect: 'credit' },
  { id: 'credits', label: 'credit-funded, a token per caller', path: '/credit', expect: 'credit' },
  { id: 'key', label: 'API key, tiered plan', path: '/keyed', expect: 'ratelimit' },
  { id: 'limited', label: 'rate-limited free route', path: '/limited', expect: 'ratelimit' },
]

const median = (values) => {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (list.length === 0) return null
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}

/** The settings of the section (`settings.cluster`). */
export function clusterSettings(quick) {
  return {
    concurrency: 8,
    rounds: quick ? 3 : 7,
    roundMs: quick ? 500 : 1000,
    warmupMs: quick ? 500 : 1000,
    /** Paid exact and the keyed route at 0.01 USDC; credit-funded at 0.001 from a $500 top-up. */
    price: '0.01',
    amount: '10000',
    creditPrice: '0.001',
    creditAmount: '1000',
    topUp: '500',
    maxRequests: 1e9,
    databaseUrl: process.env.BENCH_DATABASE_URL || 'postgres://root@127.0.0.1:5432/test',
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
  }
}

/**
 * Runs the three topologies; one that fails (or whose PostgreSQL is down) is reported with
 * its error and the others still run.
 *
 * @param context `{ chain, buyers, base, settings, outDir, snapshot, progress }` as for the
 *   credits section, and `runId`, in every Redis key the section writes (removed after it).
 */
export async function runCluster(context) {
  const { settings, progress } = context
  const s = settings.cluster
  const pgDown = await postgresProblem(s.databaseUrl)
  if (pgDown) progress(`cluster: ${pgDown}; the PostgreSQL + Redis topologies are left out`)
  const topologies = []
  try {
    for (const topology of clusterTopologies) {
      if (topology.networked && pgDown) {
        topologies.push({ ...topology, error: pgDown })
        continue
      }
      progress(`cluster: ${topology.label}`)
      try {
        topologies.push({ ...topology, ...(await runTopology(topology, context)) })
      } catch (error) {
        progress(`cluster, ${topology.label}: failed: ${error.stack ?? error}`)
        topologies.push({ ...topology, error: error.message.split('\n')[0] })
      }
    }
  } finally {
    const removed = await removeRedisKeys(s.redisUrl, context.runId).catch((error) => {
      progress(`cluster: could not remove this run's Redis keys (*${context.runId}*): ${error.message}`)
      return null
    })
    if (removed !== null) progress(`cluster: removed this run's ${removed} Redis key(s) (*${context.runId}*)`)
  }
  // Each scenario against the same scenario embedded: req/s over req/s (different moments of the run).
  const embedded = topologies.find((t) => t.id === 'embedded' && !t.error)
  for (const t of topologies) {
    if (t.error || !embedded) continue
    for (const [id, run] of Object.entries(t.runs)) {
      const at = embedded.runs[id]
      run.ratioToEmbedded = at?.rps ? run.rps / at.rps : null
    }
  }
  return { ...s, topologies }
}

/** Every instance's CPU (µs, summed) around one load. */
async function measuredAll(servers, load) {
  const cpu = async () => (await Promise.all(servers.map((server) => server.cpu()))).reduce((a, b) => a + b, 0)
  const before = await cpu()
  const result = await runLoad({ ...load, port: servers.map((server) => server.port) })
  const used = (await cpu()) - before
  return { ...result, cpuMicros: result.total ? used / result.total : null }
}

/** What the per-caller tokens spent, read on one instance. */
async function spentOf(bought, port) {
  let spent = 0n
  for (const b of bought) spent += b.available - (await creditLeft({ port, token: b.token }))
  return spent
}

/** One topology: its facilitator, its instances, the warm-up, the rounds and the money checks. */
async function runTopology(topology, context) {
  const { settings, chain, buyers, base, outDir, snapshot, progress, runId } = context
  const s = settings.cluster
  await snapshot.restore()
  const schema = topology.networked ? await freshSchema(s.databaseUrl, `${runId}_${topology.id}`) : undefined
  const servers = []
  let facilitator
  try {
    // One facilitator (one gas wallet) for every instance: their settlements share its nonces.
    facilitator = await startServer(script('facilitator'), base)
    const ledger = `${outDir}ledger-cluster-${topology.id}.db`
    const config = {
      ...base,
      price: s.price,
      amount: s.amount,
      creditPrice: s.creditPrice,
      maxRequests: s.maxRequests,
      runId,
      facilitatorUrl: `http://127.0.0.1:${facilitator.port}`,
      ...(schema ? { databaseUrl: schema.url, redisUrl: s.redisUrl } : { ledger }),
    }
    // One after the other: the first migrates the fresh schema and creates the key, that the second finds there.
    for (let i = 0; i < topology.instances; i++)
      servers.push(await startServer(script('cluster'), { ...config, createKey: i === 0 }))
    const ports = servers.map((server) => server.port)
    const key = servers[0].ready.key
    const bought = await buyCredit({ port: ports[0], amount: s.topUp, buyer: buyers[0] })
    // One account per caller, as callers of their own would be: no balance row shared.
    const own = []
    for (let i = 0; i < s.concurrency; i++)
      own.push(await buyCredit({ port: ports[0], amount: '50', buyer: buyers[i % buyers.length] }))
    const terms = await fetchTerms(ports[0], '/paid')
    const paidBefore = await chain.balanceOf(chain.payTo.address)
    const loadOf = (sc) => ({
      path: sc.path,
      concurrency: s.concurrency,
      ...(sc.expect ? { expect: sc.expect } : {}),
      ...(sc.id === 'credit' ? { headers: { authorization: `Bearer ${bought.token}` } } : {}),
      ...(sc.id === 'credits' ? { headersOf: (i) => ({ authorization: `Bearer ${own[i].token}` }) } : {}),
      ...(sc.id === 'key' ? { headers: { authorization: `Bearer ${key}` } } : {}),
    })
    const served = Object.fromEntries(clusterScenarios.map((sc) => [sc.id, 0]))
    const warmup = {}
    for (const sc of clusterScenarios) {
      const payments = sc.paid ? presign({ terms, buyers, count: 100 + 40 * s.concurrency }) : undefined
      warmup[sc.id] = await runLoad({ ...loadOf(sc), port: ports, durationMs: s.warmupMs, payments })
      served[sc.id] += warmup[sc.id].ok
    }
    const rounds = Object.fromEntries(clusterScenarios.map((sc) => [sc.id, []]))
    for (let round = 0; round < s.rounds; round++) {
      const order = round % 2 ? [...clusterScenarios].reverse() : clusterScenarios
      for (const sc of order) {
        const payments = sc.paid
          ? presign({ terms, buyers, count: poolSize(warmup.paid, s.concurrency, s.roundMs) })
          : undefined
        const r = await measuredAll(servers, { ...loadOf(sc), durationMs: s.roundMs, payments })
        rounds[sc.id].push(r)
        served[sc.id] += r.ok
      }
    }
    const money = await checkMoney({
      at: schema ? { databaseUrl: schema.url } : { ledger },
      paidOk: served.paid,
      received: (await chain.balanceOf(chain.payTo.address)) - paidBefore,
      creditOk: served.credit + served.credits,
      spent:
        bought.available -
        (await creditLeft({ port: ports[ports.length - 1], token: bought.token })) +
        (await spentOf(own, ports[ports.length - 1])),
      s,
    })
    const runs = {}
    for (const sc of clusterScenarios) runs[sc.id] = summarize(sc, rounds[sc.id], rounds.baseline)
    progress(
      `cluster, ${topology.label}: baseline ${runs.baseline.rps.toFixed(0)} req/s; ${clusterScenarios
        .slice(1)
        .map(
          ({ id }) =>
            `${id} ${runs[id].rps.toFixed(0)} req/s (${runs[id].ratioToBaseline?.toFixed(2)}×, ${runs[id].failed} failed)`,
        )
        .join('; ')}; money errors ${money.errors}${money.errors ? ` (${money.notes.join('; ')})` : ''}`,
    )
    return { runs, money, rounds: s.rounds, schema: schema?.schema }
  } finally {
    for (const server of servers) await server.stop()
    await facilitator?.stop()
    await schema?.drop().catch((error) => progress(`cluster: could not drop schema ${schema.schema}: ${error.message}`))
  }
}

/**
 * Money errors: each paid 200 without its settled ledger row (or a settled row without its
 * 200), each price's worth the payee received more or less than the paid 200s, and each
 * price's worth of credit drawn more or less than the credit-funded 200s. 0 is the target.
 */
async function checkMoney({ at, paidOk, received, creditOk, spent, s }) {
  const ledger = await ledgerPayments(at, '/paid')
  const amount = BigInt(s.amount)
  const creditAmount = BigInt(s.creditAmount)
  const units = (diff, unit) => {
    const d = diff < 0n ? -diff : diff
    return Number((d + unit - 1n) / unit)
  }
  const paidRows = Math.abs(ledger.settled - paidOk)
  const ledgerAmount = units(ledger.settledAmount - BigInt(paidOk) * amount, amount)
  const chain = units(received - BigInt(paidOk) * amount, amount)
  const credit = units(spent - BigInt(creditOk) * creditAmount, creditAmount)
  const notes = []
  if (paidRows) notes.push(`ledger has ${ledger.settled} settled payments for ${paidOk} paid 200s`)
  if (ledgerAmount) notes.push(`ledger's settled total is ${ledger.settledAmount}`)
  if (chain) notes.push(`payee received ${received} for ${paidOk} × ${amount}`)
  if (credit) notes.push(`credit drawn ${spent} for ${creditOk} × ${creditAmount}`)
  return {
    errors: paidRows + Math.max(ledgerAmount - paidRows, 0) + chain + credit,
    paidOk,
    settledRows: ledger.settled,
    otherRows: ledger.other,
    received: received.toString(),
    creditOk,
    spent: spent.toString(),
    notes,
  }
}

/** Rounds of one scenario as one: req/s, latency and CPU the medians of the rounds'; its ratio the median of the per-round ratios. */
function summarize(sc, list, base) {
  const sum = (pick) => list.reduce((n, r) => n + pick(r), 0)
  const reasons = {}
  for (const r of list) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
  return {
    id: sc.id,
    label: sc.label,
    ok: sum((r) => r.ok),
    failed: sum((r) => r.failed),
    total: sum((r) => r.total),
    rps: median(list.map((r) => r.rps)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    cpuMicros: median(list.map((r) => r.cpuMicros)),
    exhausted: list.some((r) => r.exhausted),
    reasons,
    roundsRps: list.map((r) => r.rps),
    ratioToBaseline: sc.id === 'baseline' ? 1 : median(list.map((r, k) => r.rps / base[k].rps)),
  }
}
