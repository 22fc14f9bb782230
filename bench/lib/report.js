// The summary: the table, the targets with their ratios, and bench/RESULTS.md.

import { clusterTable } from './clusterReport.js'
import { creditsMarkdown } from './creditsReport.js'
import { clientCostMarkdown } from './facilitatorClientCost.js'
import { frameworkMarkdown } from './frameworkReport.js'
import { gasWalletsTable } from './gasWallets.js'
import { limitsMarkdown, limitsMethod } from './limitsReport.js'
import { proxyMarkdown } from './proxyReport.js'

const fmt = (value, digits = 1) => (value === null || value === undefined ? '—' : value.toFixed(digits))

/** The runs as a Markdown table. */
export function runsTable(runs) {
  const lines = [
    '| scenario | callers | req/s (ok) | p50 ms | p99 ms | failed | failed % | requests | s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of runs) {
    lines.push(
      `| ${r.label} | ${r.concurrency} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.paid ? r.failed : r.failed || '—'} | ${r.paid ? fmt(r.failedPct) : '—'} | ${r.total} | ${fmt(r.elapsed, 1)} |`,
    )
  }
  return lines.join('\n')
}

/** Where the CPU went, per completed request: server child, anvil, load generator. */
export function cpuTable(runs) {
  const lines = [
    '| scenario | callers | server CPU ms/req | anvil CPU ms/req | generator CPU ms/req |',
    '|---|---:|---:|---:|---:|',
  ]
  for (const r of runs) {
    lines.push(
      `| ${r.label} | ${r.concurrency} | ${fmt(r.cpu.serverMs, 3)} | ${fmt(r.cpu.anvilMs, 3)} | ${fmt(r.cpu.generatorMs, 3)} |`,
    )
  }
  return lines.join('\n')
}

/** Each target, with the measured ratio and whether it is met. */
export function evaluateTargets(runs, verify) {
  const find = (id, concurrency) => runs.find((r) => r.id === id && r.concurrency === concurrency)
  const targets = []
  const levels = [...new Set(runs.map((r) => r.concurrency))]
  const freeRatios = levels
    .map((c) => ({ c, base: find('baseline', c), free: find('free', c) }))
    .filter((x) => x.base && x.free)
    .map((x) => ({
      concurrency: x.c,
      ratio: x.free.ratioToBaseline ?? x.free.rps / x.base.rps,
      ...(x.free.ratioToNoop === undefined ? {} : { toNoop: x.free.ratioToNoop }),
      ...(find('noop', x.c)?.ratioToBaseline === undefined ? {} : { noop: find('noop', x.c).ratioToBaseline }),
    }))
  if (freeRatios.length) {
    targets.push({
      id: 'free-vs-baseline',
      target: 'free route behind the middleware ≥ 0.95× the unpaid baseline (req/s), at every concurrency',
      measured:
        freeRatios.map((x) => `${x.ratio.toFixed(3)}× at ${x.concurrency}`).join(', ') +
        (freeRatios.some((x) => x.toNoop !== undefined)
          ? `; a no-op Express middleware alone: ${freeRatios.map((x) => `${x.noop?.toFixed(3)}×`).join(', ')}; 402x against that no-op: ${freeRatios.map((x) => `${x.toNoop?.toFixed(3)}×`).join(', ')}`
          : ''),
      ratios: freeRatios,
      met: freeRatios.every((x) => x.ratio >= 0.95),
    })
  }
  const top = Math.max(...levels)
  const ours = find('paid402x', top)
  const reference = find('paidOfficial', top)
  if (ours) {
    targets.push({
      id: 'paid-no-failures',
      target: `paid exact at ${top} callers: 0 failed payments`,
      measured: `${ours.failed} failed of ${ours.total}`,
      met: ours.failed === 0 && ours.total > 0,
    })
  }
  if (ours && reference) {
    const ratio = reference.rps > 0 ? ours.rps / reference.rps : Number.POSITIVE_INFINITY
    const variant = find('paidOfficialNonceManager', top)
    targets.push({
      id: 'paid-vs-official',
      target: `paid exact at ${top} callers ≥ 10× the official package's paid req/s (reference configuration)`,
      measured: `${ours.rps.toFixed(1)} vs ${reference.rps.toFixed(1)} req/s = ${ratio.toFixed(1)}×${variant ? ` (vs the nonceManager variant: ${(ours.rps / variant.rps).toFixed(1)}×)` : ''}`,
      ratio,
      met: ratio >= 10,
    })
  }
  if (verify) {
    targets.push({
      id: 'verify-cpu',
      target: 'one signature verification ≤ 150 µs CPU',
      measured: `${verify.oursMicros.toFixed(1)} µs (${verify.backend}); viem recoverTypedDataAddress ${verify.viemRecoverMicros.toFixed(0)} µs, verifyTypedData ${verify.viemVerifyMicros.toFixed(0)} µs (${(verify.viemRecoverMicros / verify.oursMicros).toFixed(1)}× ours)`,
      met: verify.oursMicros <= 150,
    })
  }
  return targets
}

export function targetsTable(targets) {
  const lines = ['| target | measured | status |', '|---|---|---|']
  for (const t of targets)
    lines.push(`| ${t.target} | ${t.measured} | ${t.status ?? (t.met ? 'met' : '**not met**')} |`)
  return lines.join('\n')
}

/** The full bench/RESULTS.md text. */
export function resultsMarkdown(result) {
  const { machine, settings, runs, verify, targets, balance } = result
  return `# Benchmark results

Command: \`${result.command}\` (from the repository root, after \`npm run build\`)

Date: ${result.date}

Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGb} GB RAM, ${machine.os}, Node ${machine.node}, anvil on the same machine.
${machine.loadAverage ? `\nLoad average (1 min) when the run began: ${machine.loadAverage.before.toFixed(2)}, when it ended: ${machine.loadAverage.after.toFixed(2)} (${machine.nproc} CPUs; the bench itself adds about 2 while it runs).\n` : ''}${result.note ? `\n**Note:** ${result.note}\n` : ''}
Elapsed: ${result.elapsedSeconds.toFixed(0)} s.

## Throughput and latency

Express 5 on 127.0.0.1, a fresh server child process per scenario and concurrency; the load
generator runs in the parent process. ${settings.durationMs / 1000} s per run (or until the pre-signed payments run out),
after a ${settings.warmupMs / 1000} s warm-up at the same concurrency. Paid requests cost ${settings.price} USDC and
are signed before the run by ${settings.buyers} buyers.

${runsTable(runs)}

- req/s counts successful requests only. Latency (p50, p99) is over successful requests.
- A paid request fails unless it gets 200 with a PAYMENT-RESPONSE whose \`success\` is true.
${failureNotes(runs)}

## Signature verification (CPU per verification, same payload)

| implementation | µs CPU / verification |
|---|---:|
| 402x \`verifyAuthorization\` (${verify.backend} secp256k1, all offline checks) | ${verify.oursMicros.toFixed(1)} |
| viem \`recoverTypedDataAddress\` | ${verify.viemRecoverMicros.toFixed(1)} |
| viem \`verifyTypedData\` | ${verify.viemVerifyMicros.toFixed(1)} |

Averaged over ${verify.iterations.ours} (ours) and ${verify.iterations.viem} (viem) iterations with \`process.cpuUsage()\`, after a warm-up.

## Targets

${targetsTable(targets)}

## Where the CPU went

CPU time (user + system, from /proc) per completed request during the timed runs.

${runs.some((r) => r.cpu.serverMs !== null) ? cpuTable(runs) : 'Not available on this platform.'}

On-chain check, run by run: the payee received ${balance.received} atomic units in all for ${balance.paidOk}
successful paid requests (warm-ups included, framework runs too) at ${balance.price} each: ${balance.matches ? 'every run matches' : `**not every run matches**: ${balance.mismatched?.join('; ') ?? 'see the log'}`}.

${result.frameworks?.length ? frameworkMarkdown(result) : ''}
${result.credits ? creditsMarkdown(result) : ''}
${result.client ? clientCostMarkdown(result.client) : ''}
${result.limits ? limitsMarkdown(result) : ''}
${result.gas ? `## Gas wallets: settlement throughput against anvil's ceiling\n\n${gasWalletsTable(result.gas)}\n\nTarget (issue 18): paid \`exact\` with 4 gas wallets ≥ 2× one wallet, 0 money errors. See History, 2026-12-07, for what bounds it on anvil.\n\n` : ''}${result.cluster ? `## Cluster: embedded, PostgreSQL + Redis, two instances\n\n${clusterTable(result.cluster)}\n\n` : ''}${result.proxy ? proxyMarkdown(result.proxy) : ''}
## Method

- One anvil (automine) with Circle's FiatTokenV2_2, started by \`@402x/devchain\`; the servers
  use the same gas wallet key, one at a time. Each scenario × concurrency gets a fresh server.
- Every paid run starts from the same chain state (\`evm_snapshot\` / \`evm_revert\`): measured
  here, anvil gets slower per transaction, and its receipts lag the send more, as the chain
  grows, so without it later runs would pay for the earlier ones. The revert is followed by
  \`anvil_dropAllTransactions\`: anvil keeps its transaction pool across a revert, and a
  transaction left queued behind a nonce gap would be mined in a later run, a second payment
  for a request of a run already over. A run that leaves any is reported as it goes.
- a. baseline: \`GET /free\` with no middleware.
- a'. the same route behind \`app.use((req, res, next) => next())\`: what any middleware mounted
  with \`app.use\` costs in Express itself (402x's share is b against a').
- b. \`GET /free\` on the 402x server, behind \`app.use(x402Middleware({ routes: { 'GET /paid': … } }))\`:
  the middleware runs and finds the route free. Its facilitator is a URL, as most sellers
  configure it (a free route never calls it).
- a and b are measured as a pair: both servers run at once (each idle while the other is
  loaded) and take turns in short alternating rounds, so the machine's drift hits both alike.
  Their req/s and latencies are medians over the rounds, and the ratio in the targets is the
  median of the per-round ratios.
- c. \`GET /paid\` through \`x402Middleware\` with an in-process \`createFacilitator\` (one gas wallet)
  and a SQLite ledger in \`bench/out/\`.
- d. \`GET /paid\` through \`@x402/express\` \`paymentMiddleware\` with the official in-process
  \`x402Facilitator\` and \`ExactEvmScheme\`, its signer a plain viem wallet client (no
  nonceManager: the reference configuration). The labelled variant adds viem's nonceManager.
  Both poll receipts every 10 ms (viem's default here would be 4 s): as anvil's chain grows,
  a receipt is often not ready right after the send, and a slow poll would only hurt the reference.
- Payments are fetched from the server's own 402 (\`PAYMENT-REQUIRED\`), then signed with
  \`createPayment\`, one distinct nonce per request, round-robin over the buyers.
- Each caller keeps one keep-alive connection and sends its next request when the last one answers.
${limitsMethod}
`
}

function failureNotes(runs) {
  const lines = runs
    .filter((r) => r.failed > 0)
    .map(
      (r) =>
        `  - ${r.label}, ${r.concurrency} callers: ${Object.entries(r.reasons)
          .map(([k, v]) => `${v}× ${k}`)
          .join(', ')}`,
    )
  return lines.length ? `- Failure reasons:\n${lines.join('\n')}` : '- No request failed.'
}
