// The proxy section's table, targets and RESULTS.md text (bench/lib/proxy.js).

/** Credit-funded through the proxy ÷ the upstream direct. */
export const proxyDirectTarget = 0.7
/** Free and credit-funded through the proxy ÷ nginx in front of the same upstream. */
export const proxyNginxTarget = 0.9

const rate = (rps) => (rps >= 100 ? rps.toFixed(0) : rps.toFixed(1))
const times = (ratio) => (ratio === null || ratio === undefined ? '—' : `${ratio.toFixed(3)}×`)
const ms = (v) => (v === null || v === undefined ? '—' : v.toFixed(2))
const us = (v) => (v === null || v === undefined ? '—' : v.toFixed(0))
const reasonList = (reasons) =>
  Object.entries(reasons)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ')

/** One row per way of reaching the upstream; then the ratios, the checks and how it was run. */
export function proxyTable(proxy) {
  const lines = [
    '| row | req/s | ÷ direct | ÷ nginx | p50 ms | p99 ms | proxy (or nginx) CPU µs/req | upstream CPU µs/req | load generator CPU µs/req | not 2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of Object.values(proxy.rows)) {
    lines.push(
      `| ${r.label} | ${rate(r.rps)} | ${times(r.ratioToDirect)} | ${times(r.ratioToNginx)} | ${ms(r.p50)} | ${ms(r.p99)} | ${us(r.cpuMicros.front)} | ${us(r.cpuMicros.upstream)} | ${us(r.cpuMicros.generator)} | ${r.failed} of ${r.total}${r.failed ? ` (${reasonList(r.reasons)})` : ''}${r.exhausted ? ', payments ran out' : ''} |`,
    )
  }
  if (proxy.nginx.error) lines.push(`| nginx, plain reverse proxy | not run: ${proxy.nginx.error} | | | | | | | | |`)
  const m = proxy.money
  const up = Object.entries(m.upstream)
    .map(([id, c]) => `${id} ${c.requests} for ${c.served} 200s`)
    .join(', ')
  lines.push(
    '',
    `- Ratios are medians of the ${proxy.rounds} per-round ratios; req/s over all rounds; p50 and p99 the medians of the rounds'.`,
    `- Money: **${m.errors} error(s)**. Credit: ${m.creditOk} credit-funded 200s (warm-up included), drawn ${m.spent} atomic units (${proxy.amount} each). Paid \`exact\`: ${m.paidOk} paid 200s, ${m.settledRows} settled ledger rows${Object.keys(m.otherRows).length ? ` (others: ${JSON.stringify(m.otherRows)})` : ''}, payee +${m.received}.${m.notes.length ? ` ${m.notes.join('; ')}.` : ''}`,
    `- Not 2xx as expected, every row, warm-ups included: ${m.failed}. What reached the upstream: ${up}; with a payment or a credit token: ${m.leaked}; with \`X-402x-Consumer\` / \`X-402x-Paid\`: ${['credit', 'paid'].map((id) => `${id} ${m.upstream[id]?.consumerHeader ?? '—'} / ${m.upstream[id]?.paidHeader ?? '—'}`).join(', ')}.`,
    ...(proxy.proxyLog ? [`- 402x proxy logged: ${proxy.proxyLog.map((l) => `\`${l}\``).join(' ')}`] : []),
    ...(proxy.nginxErrorLog ? [`- nginx logged: ${proxy.nginxErrorLog.map((l) => `\`${l}\``).join(' ')}`] : []),
    `- ${proxy.concurrency} callers on keep-alive connections, the same for every row (bench/lib/load.js, one Node process); ${proxy.rounds} alternating rounds of ${proxy.roundMs} ms per row after a ${proxy.warmupMs} ms warm-up each. **The load generator shares the 2 CPUs** with the upstream, the proxy (or nginx) and, on the paid row, the facilitator and anvil. The 402x proxy is one process${proxy.nginx.error ? '' : `; nginx (${proxy.nginx.version}) runs ${proxy.nginx.workers} worker (\`worker_processes ${proxy.nginx.workers}\`: one event loop, as the proxy's; a second worker would only take turns on the same 2 cores)`}.`,
  )
  return lines.join('\n')
}

/** credit ÷ direct ≥ 0.7×; free ÷ nginx and credit ÷ nginx ≥ 0.9×; 0 money errors and every answer 2xx. */
export function proxyTargets(proxy) {
  if (!proxy) return []
  const { ratios, rows } = proxy
  const nginxMissing = proxy.nginx.error ? `not measured (${proxy.nginx.error})` : undefined
  const target = (id, text, key, a, b, bound, missing) => ({
    id,
    target: text,
    measured:
      missing ?? `${rate(rows[a].rps)} vs ${rate(rows[b].rps)} req/s, median per-round ratio ${times(ratios[key])}`,
    ratio: ratios[key],
    ...(missing ? { status: 'not run' } : {}),
    met: ratios[key] !== null && ratios[key] >= bound,
  })
  const m = proxy.money
  return [
    target(
      'proxy-credit-direct',
      `402x proxy, credit-funded ≥ ${proxyDirectTarget}× the upstream called directly (req/s, ${proxy.concurrency} callers)`,
      'creditVsDirect',
      'credit',
      'direct',
      proxyDirectTarget,
    ),
    target(
      'proxy-free-nginx',
      `402x proxy, free path ≥ ${proxyNginxTarget}× nginx in front of the same upstream`,
      'freeVsNginx',
      'free',
      'nginx',
      proxyNginxTarget,
      nginxMissing,
    ),
    target(
      'proxy-credit-nginx',
      `402x proxy, credit-funded ≥ ${proxyNginxTarget}× nginx in front of the same upstream`,
      'creditVsNginx',
      'credit',
      'nginx',
      proxyNginxTarget,
      nginxMissing,
    ),
    {
      id: 'proxy-money',
      target:
        '402x proxy: 0 money errors (credit drawn = credit 200s × price; payee and settled rows = paid 200s), every answer 2xx',
      measured: `${m.errors} money errors; ${m.failed} not 2xx; the upstream reached ${m.upstreamErrors} times more or less than the 200s, ${m.leaked} times with a payment or token`,
      met: m.errors === 0 && m.failed === 0 && m.upstreamErrors === 0 && m.leaked === 0,
    },
  ]
}

/** The section of bench/RESULTS.md. */
export function proxyMarkdown(proxy) {
  return `## 402x proxy: against the upstream direct and nginx

The same upstream (a plain Node \`http\` server answering a small JSON, its own process) reached five
ways in one run: directly; through \`402x proxy\` (\`node packages/cli/dist/bin.js proxy --config 402x.yaml\`,
one process) on a free path (\`free:\`), on \`GET /api/data\` at $${proxy.price} drawn from credit
(\`Authorization: Bearer\`, one $${proxy.topUp} top-up bought with x402 before the rounds), and on the same
route paid per request with x402 \`exact\` (pre-signed, settled on anvil by a facilitator child); and through
nginx (\`proxy_pass\` to an upstream keep-alive pool, \`proxy_http_version 1.1\`, \`Connection ""\`, no access log).

${proxyTable(proxy)}

`
}
