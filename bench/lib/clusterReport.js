// The cluster section's table and targets (bench/lib/cluster.js).
import { clusterScenarios } from './cluster.js'
import { reasonList } from './credits.js'

/** Credit-funded on PostgreSQL and Redis, against the unpaid baseline of the same topology. */
export const clusterCreditTarget = 0.6

const rate = (rps) => (rps >= 100 ? rps.toFixed(0) : rps.toFixed(1))
const times = (ratio) => (ratio === null || ratio === undefined ? '—' : `${ratio.toFixed(2)}×`)

/** One table: a row per topology and scenario, req/s, p50, both ratios, failures; then the money checks. */
export function clusterTable(cluster) {
  const lines = [
    `Cluster (${cluster.concurrency} callers, ${cluster.rounds} alternating rounds of ${cluster.roundMs} ms per scenario; two instances: the load client alternates requests):`,
    '',
    '| topology | scenario | req/s | p50 ms | ÷ baseline | ÷ embedded | server CPU µs/req | failed |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const t of cluster.topologies) {
    if (t.error) {
      lines.push(`| ${t.label} | not run: ${t.error} | | | | | | |`)
      continue
    }
    for (const sc of clusterScenarios) {
      const r = t.runs[sc.id]
      lines.push(
        `| ${t.label} | ${r.label} | ${rate(r.rps)} | ${r.p50?.toFixed(2) ?? '—'} | ${times(r.ratioToBaseline)} | ${times(r.ratioToEmbedded)} | ${r.cpuMicros?.toFixed(0) ?? '—'} | ${r.failed} of ${r.total}${r.failed ? ` (${reasonList(r.reasons)})` : ''}${r.exhausted ? ', payments ran out' : ''} |`,
      )
    }
  }
  lines.push('', 'Money checks (warm-up included):', '')
  for (const t of cluster.topologies) {
    if (t.error) continue
    const m = t.money
    lines.push(
      `- ${t.label}: ${m.errors} money error(s). Paid: ${m.paidOk} 200s, ${m.settledRows} settled ledger rows${Object.keys(m.otherRows).length ? ` (others: ${JSON.stringify(m.otherRows)})` : ''}, payee +${m.received}; credit: ${m.creditOk} 200s, drawn ${m.spent}${m.notes.length ? `; ${m.notes.join('; ')}` : ''}`,
    )
  }
  return lines.join('\n')
}

/** Credit-funded on PostgreSQL + Redis ≥ 0.6× its baseline (each networked topology), and 0 money errors in every topology. */
export function clusterTargets(cluster) {
  if (!cluster) return []
  const out = []
  // Both ways of calling: every caller on one token (one hot balance row), and a token each.
  for (const t of cluster.topologies.filter((t) => t.networked))
    for (const [id, how] of [
      ['credit', 'one token'],
      ['credits', 'a token each'],
    ]) {
      const ratio = t.runs?.[id]?.ratioToBaseline ?? null
      out.push({
        id: `cluster-${id}-${t.id}`,
        target: `${t.label}: credit-funded ≥ ${clusterCreditTarget}× the unpaid baseline (req/s, ${cluster.concurrency} callers, ${how})`,
        measured: t.error
          ? `not measured (${t.error})`
          : `${rate(t.runs[id].rps)} vs ${rate(t.runs.baseline.rps)} req/s = ${times(ratio)}`,
        ratio,
        met: ratio !== null && ratio >= clusterCreditTarget,
      })
    }
  const ran = cluster.topologies.filter((t) => !t.error)
  const errors = ran.reduce((n, t) => n + t.money.errors, 0)
  out.push({
    id: 'cluster-money',
    target:
      '0 money errors in every cluster run (ledger rows and payee balance = paid 200s; credit drawn = credit 200s × price)',
    measured: `${errors} in ${ran.length} of ${cluster.topologies.length} topologies (${ran.map((t) => `${t.id} ${t.money.errors}`).join(', ')})`,
    met: errors === 0 && ran.length === cluster.topologies.length,
  })
  return out
}

/** Paid exact with 4 gas wallets ≥ 2× one (the gas section): on anvil as it is, and with the RPC a hosted node's round trip away. */
export function gasTargets(gas) {
  if (!gas) return []
  const out = []
  // Measured by the gas section (paid exact through the paywall, 1 and 4 gas wallets).
  const one = gas.paid.find((r) => r.wallets === 1)?.rps
  const four = gas.paid.find((r) => r.wallets === 4)?.rps
  const ratio = one && four ? four / one : null
  out.push({
    id: 'cluster-gas',
    target: 'paid exact with 4 gas wallets ≥ 2× one wallet (the gas section)',
    measured:
      ratio === null
        ? 'not measured here (run the gas section)'
        : `${rate(four)} vs ${rate(one)} settled/s = ${times(ratio)}`,
    ...(ratio === null ? { status: 'not run' } : {}),
    met: ratio !== null && ratio >= 2,
  })
  // The same with the RPC a hosted node's round trip away (the gas section's second set of paid runs).
  const remote = gas.remote
  if (remote) {
    const slowOne = remote.paid.find((r) => r.wallets === 1)?.rps
    const slowFour = remote.paid.find((r) => r.wallets === 4)?.rps
    const slowRatio = slowOne && slowFour ? slowFour / slowOne : null
    out.push({
      id: 'cluster-gas-remote',
      target: `the same with every RPC call ${remote.latencyMs} ms away (a hosted node): 4 gas wallets ≥ 2× one`,
      measured:
        slowRatio === null ? 'not measured' : `${rate(slowFour)} vs ${rate(slowOne)} settled/s = ${times(slowRatio)}`,
      met: slowRatio !== null && slowRatio >= 2,
    })
  }
  return out
}
