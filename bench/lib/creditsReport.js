// The credits section in the summary and in RESULTS.md: credit-funded req/s beside the same
// Express route with no middleware and paid `exact`, and its targets.
import { reasonList } from './credits.js'

/** The issue's targets: credit-funded req/s against no middleware, and against paid `exact`. */
export const creditTargetsRatio = { baseline: 0.85, paid: 20 }

const num = (value, digits = 1) => (value === null || value === undefined ? '—' : value.toFixed(digits))
const rate = (value) => (value === null || value === undefined ? '—' : value.toFixed(value >= 1000 ? 0 : 1))

/** The three scenarios, with the server's CPU per request and each one's check. */
export function creditsTable(credits) {
  const { runs } = credits
  const lines = [
    '| scenario | req/s (ok) | ÷ no middleware | p50 ms | p99 ms | failed | requests | server CPU µs / req | check |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const id of ['baseline', 'credit', 'paid']) {
    const r = runs[id]
    if (!r) continue
    if (r.error) {
      lines.push(`| ${r.label} | not measured: ${r.error} | | | | | | | |`)
      continue
    }
    // Credit-funded: the median of the paired rounds' ratios (the target's figure).
    const base = runs.baseline?.rps
    const ratio = id === 'credit' && credits.creditVsBaseline !== null ? credits.creditVsBaseline : base && r.rps / base
    lines.push(
      `| ${r.label} | ${rate(r.rps)} | ${ratio ? `${ratio.toFixed(3)}×` : '—'} | ${num(r.p50, 2)} | ${num(r.p99, 2)} | ${r.failed} | ${r.total} | ${num(r.cpuMicros, 0)} | ${check(id, r)} |`,
    )
  }
  return lines.join('\n')
}

function check(id, r) {
  if (!r.check) return '—'
  const c = r.check
  if (id === 'credit') {
    return `credit drawn ${c.spent} for ${c.successes} × price: ${c.matches ? 'match' : '**MISMATCH**'}`
  }
  return `on chain ${c.received} for ${c.successes} × price: ${c.matches ? 'match' : '**MISMATCH**'}`
}

/** The two ratio targets, and the credit run's correctness. */
export function creditTargets(credits) {
  if (!credits) return []
  const { runs, concurrency } = credits
  const credit = runs.credit
  const measuredRatio = (ratio, other) =>
    ratio === null ? `not measured (${runs[other]?.error ?? credit?.error ?? 'no run'})` : `${ratio.toFixed(2)}×`
  const rps = (r) => (r?.rps ? `${rate(r.rps)} req/s` : '—')
  return [
    {
      id: 'credit-vs-baseline',
      target: `credit-funded (Bearer) ≥ ${creditTargetsRatio.baseline}× the same Express route with no middleware (req/s, ${concurrency} callers)`,
      measured: `${rps(credit)} vs ${rps(runs.baseline)} = ${measuredRatio(credits.creditVsBaseline, 'baseline')}`,
      ratio: credits.creditVsBaseline,
      met: credits.creditVsBaseline !== null && credits.creditVsBaseline >= creditTargetsRatio.baseline,
    },
    {
      id: 'credit-vs-paid',
      target: `credit-funded (Bearer) ≥ ${creditTargetsRatio.paid}× paid exact on the same route (req/s, ${concurrency} callers)`,
      measured: `${rps(credit)} vs ${rps(runs.paid)} = ${measuredRatio(credits.creditVsPaid, 'paid')}`,
      ratio: credits.creditVsPaid,
      met: credits.creditVsPaid !== null && credits.creditVsPaid >= creditTargetsRatio.paid,
    },
    {
      id: 'credit-no-failures',
      target: 'credit-funded: every response 200 with X-402x-Receipt, credit drawn down by exactly price × successes',
      measured: credit?.check
        ? `${credit.failed} failed of ${credit.total}${credit.failed ? ` (${reasonList(credit.reasons)})` : ''}; drawn ${credit.check.spent} for ${credit.check.successes} requests`
        : `not measured (${credit?.error ?? 'no run'})`,
      met: Boolean(credit?.check?.matches && credit.failed === 0 && credit.total > 0),
    },
  ]
}

/** The RESULTS.md section. */
export function creditsMarkdown({ credits }) {
  const c = credits
  return `## Credits: bearer draw-down

Express 5, one route, \`GET /api/data\` at ${c.price} USDC, three ways, each on a fresh server child, ${c.concurrency} callers
on keep-alive connections for ${c.durationMs / 1000} s in all per scenario (the load from the bench process):

${creditsTable(c)}

- **No middleware**: the same Express app and handler, no \`x402Middleware\`; its requests carry the same bearer
  token (ignored), so that both get the same bytes.
- **Credit-funded**: \`app.use(x402Middleware({ routes: { 'GET /api/data': { price: ${c.price} } }, … }))\` with credit on
  (the default), its SQLite ledger in \`bench/out/\`. Before the timed part the bench buys $${c.topUp} of credit with one real
  x402 payment (\`POST /__402x/credits?amount=${c.topUp}\`, paid by a devchain buyer through a facilitator process),
  then stops the facilitator: the timed run never reaches the chain. Every request sends
  \`Authorization: Bearer <token>\`; the paywall holds the price in memory, runs the handler, and writes the charge to the
  caller's tab (one row, one page) in a group-committed SQLite transaction before answering; tabs are posted as
  \`charge\` entries within a second. A request counts only with 200 and an \`X-402x-Receipt\`; after
  the run the token's balance (\`GET /__402x/credits\`) must have dropped by exactly the price × the successful
  requests, warm-up included.
- No middleware and credit-funded run side by side, each on its own server (idle while the other is loaded): after a
  ${c.warmupMs / 1000} s warm-up each, they take turns in ${c.rounds} alternating rounds of ${c.durationMs / c.rounds / 1000} s (a b, b a, …), so that
  this machine's drift hits both alike. Their req/s are over all their rounds; the ratio (÷ no middleware, and the
  target) is the median of the per-round ratios; latency is the median of the rounds'.
- **Paid exact**: the credit-funded server's configuration on a fresh child, each request with its own pre-signed \`PAYMENT-SIGNATURE\` (EIP-3009,
  round-robin over the buyers), verified and settled on chain (anvil, automine) by the facilitator in its own process
  over HTTP, as in the framework comparison; the chain starts from the same snapshot, and the payee's balance must grow
  by exactly the price × the successful requests. Warm-up: a number of paid requests, not a time; then one timed run.
  Its on-chain check is this table's, not the one above (another price).
- Server CPU µs / req: the server child's own CPU (\`process.cpuUsage()\` inside it) over the timed run, per request;
  for paid exact the chain work (facilitator, anvil) is not in it.
- On this 2-core machine the load generator, the server and anvil share the CPUs: with no middleware the server
  waits on the load generator part of the time, so that ratio also measures the generator's headroom.
`
}
