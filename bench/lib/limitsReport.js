// The limits section in the summary and in RESULTS.md: rate limits and API keys beside the
// route with no middleware, what one decision costs on Redis, and the issue's targets.
import { limitScenarios } from './limits.js'

/** The issue's targets (17): key-authenticated req/s against no middleware, and one decision on Redis. */
export const limitTargetsRatio = { keyMemory: 0.85, keyRedis: 0.6, addedP50Ms: 0.2 }

const num = (value, digits = 1) => (value === null || value === undefined ? '—' : value.toFixed(digits))
const rate = (value) => (value === null || value === undefined ? '—' : value.toFixed(value >= 1000 ? 0 : 1))
const reasonList = (reasons) =>
  Object.entries(reasons)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ')

/** Every scenario at every concurrency, with its ratio to the baseline of the same rounds. */
export function limitsTable(limits) {
  const lines = [
    '| scenario | callers | req/s (ok) | ÷ baseline | p50 ms | p99 ms | failed | requests | server CPU µs / req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const concurrency of limits.concurrencies) {
    for (const sc of limitScenarios) {
      const r = limits.runs.find((x) => x.id === sc.id && x.concurrency === concurrency)
      if (!r) {
        if (sc.redis && limits.redisDown)
          lines.push(`| ${sc.label} | ${concurrency} | not measured: ${limits.redisDown} | | | | | | |`)
        continue
      }
      lines.push(
        `| ${r.label} | ${concurrency} | ${rate(r.rps)} | ${r.id === 'baseline' ? '1×' : `${num(r.ratioToBaseline, 3)}×`} | ${num(r.p50, 2)} | ${num(r.p99, 2)} | ${r.failed} | ${r.total} | ${num(r.cpuMicros, 0)} |`,
      )
    }
  }
  return lines.join('\n')
}

/** One decision on Redis: `store.consume()` alone, the p50 it adds to a route, and its commands. */
export function redisCostLines(limits) {
  if (limits.redisDown) return [`- Redis: not measured (${limits.redisDown}).`]
  const c = limits.consume
  const lines = [
    `- \`store.consume()\` of \`createRedisRateLimitStore\` alone, ${c.calls} sequential calls from the bench process: p50 ${num(c.p50, 3)} ms, p99 ${num(c.p99, 3)} ms; a bare \`PING\` on the same connection settings, timed in turn with them: p50 ${num(c.pingP50, 3)} ms, p99 ${num(c.pingP99, 3)} ms.`,
  ]
  if (limits.addedP50) {
    lines.push(
      `- p50 added by Redis over memory at 1 caller (median of the per-round differences): free route behind \`rateLimit()\` ${num(limits.addedP50.free, 3)} ms, key route ${num(limits.addedP50.keys, 3)} ms.`,
    )
  }
  const counted = Object.entries(limits.commandsPerRequest ?? {}).map(
    ([id, x]) =>
      `${limitScenarios.find((sc) => sc.id === id)?.label}: ${num(x.perRequest, 2)} per request over ${x.requests} (${commandList(x.commands)})`,
  )
  lines.push(
    `- Redis round trips per decision, counted with \`MONITOR\` (outside the timed rounds; only the commands naming this run's keys, as clients sent them; nothing here pipelines): \`store.consume()\` ${num(c.commandsPerDecision, 2)} (${commandList(c.commands)})${counted.length ? `; ${counted.join('; ')}` : ''}. Inside Redis the script runs ${commandList(perCall(c.inScripts, 100))} per decision, besides \`TIME\`.`,
  )
  return lines
}

const perCall = (commands, calls) =>
  Object.fromEntries(Object.entries(commands ?? {}).map(([name, n]) => [name, Number((n / calls).toFixed(2))]))

const commandList = (commands) =>
  Object.entries(commands ?? {})
    .map(([name, n]) => `${n}× ${name.toUpperCase()}`)
    .join(', ') || 'none'

/** The issue's three targets. */
export function limitTargets(limits) {
  if (!limits) return []
  const t = limitTargetsRatio
  const ratios = (id) => limits.runs.filter((r) => r.id === id)
  const ratioTarget = (id, min, what) => {
    const runs = ratios(id)
    const failed = runs.reduce((n, r) => n + r.failed, 0)
    const reasons = {}
    for (const r of runs) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
    return {
      id: `limits-${id}`,
      target: `${what} ≥ ${min}× the unpaid Express baseline (req/s), at every concurrency`,
      measured: runs.length
        ? `${runs.map((r) => `${num(r.ratioToBaseline, 3)}× at ${r.concurrency}`).join(', ')}${failed ? `; ${failed} failed (${reasonList(reasons)})` : ''}`
        : `not measured (${limits.redisDown ?? 'no run'})`,
      met: runs.length > 0 && failed === 0 && runs.every((r) => r.ratioToBaseline >= min),
    }
  }
  const added = limits.addedP50?.free
  const perDecision = limits.consume?.commandsPerDecision
  return [
    ratioTarget('keyMemory', t.keyMemory, 'API key on a tiered plan, limits in memory,'),
    ratioTarget('keyRedis', t.keyRedis, 'API key on a tiered plan, limits in Redis,'),
    {
      id: 'limits-redis-decision',
      target: `one rate-limit decision on Redis: one round trip, ≤ ${t.addedP50Ms} ms p50 added (free route, Redis over memory, 1 caller)`,
      measured:
        added === null || added === undefined
          ? `not measured (${limits.redisDown ?? 'no run at 1 caller'})`
          : `${num(added, 3)} ms added; ${num(perDecision, 2)} command(s) per decision; store.consume() alone p50 ${num(limits.consume.p50, 3)} ms`,
      met: added !== null && added !== undefined && added <= t.addedP50Ms && perDecision === 1,
    },
  ]
}

/** The RESULTS.md section. */
export function limitsMarkdown({ limits }) {
  const l = limits
  return `## Rate limits and API keys

Express 5, five servers per concurrency, each a fresh child process: the route with no middleware (a. above), a free
route behind \`rateLimit()\`, and a key-only route on a tiered plan, each of the last two counting in memory and in Redis
(\`${l.redisUrl}\`). Limits of ${l.maxRequests.toLocaleString('en-US')} a minute: every request is served. After a ${l.warmupMs / 1000} s warm-up each, they
take turns in ${l.rounds} alternating rounds of ${l.roundMs / 1000} s; figures are medians of the rounds, ratios the medians of the per-round ratios.

${limitsTable(l)}

${redisCostLines(l).join('\n')}
`
}

/** The section's lines in the Method part of RESULTS.md. */
export const limitsMethod = `- Rate limits and API keys (\`--only limits\`, no chain): on Express 5, five servers per concurrency, each a fresh
  child: a. above; \`app.get('/free', rateLimit({ maxRequests: 1e9, windowMs: 60000, onStoreError: 'fail-closed' }), handler)\`
  with the memory store, and the same with \`store: 'redis://…'\`; \`GET /keyed\` priced with \`accept: ['key']\` behind
  \`app.use(x402Middleware({ routes, keys: { plans: [plans.tiered({ monthly: 1e9, perMinute: 1e9 })] } }))\`, its key made
  with \`paywall.keys.create()\` (SQLite, the ledger file in \`bench/out/\`) and sent as \`Authorization: Bearer\`, its
  plan's limit in memory, and the same with \`stores: { rateLimits: 'redis://…' }\`. A limited route's request counts
  only with 200 and a \`RateLimit\` header; with \`fail-closed\` a Redis that stops answering shows as failures, not as
  uncounted 200s. The five take turns in short alternating rounds as a and b do; ratios are the medians of the
  per-round ratios to a. Before them, \`store.consume()\` of \`createRedisRateLimitStore\` is timed alone (sequential
  calls from the bench process, each after a timed \`PING\`), and after the rounds at 1 caller the Redis commands
  naming the run's keys are counted with \`MONITOR\` (which slows Redis: never during a timed round). The plan's name
  and the limit's prefix carry a run id; the run's Redis keys (\`*<run id>*\`) are removed after it and on SIGINT/SIGTERM.
  Redis at \`BENCH_REDIS_URL\`, by default \`redis://127.0.0.1:6379\`.`
