// The framework comparison in the summary and in RESULTS.md: paid req/s beside the unpaid
// route, the middleware's own CPU per paid request against the 300 µs target, and what a
// price function costs.

/** The issue's target for the middleware's own CPU per paid request, in µs. */
export const middlewareTargetMicros = 300

const names = { express: 'Express 5', hono: 'Hono (node-server)', fastify: 'Fastify 5', node: 'Node `http`' }
const kinds = { fixed: '`price: 0.01`', sync: '`price: () => 0.01`', async: '`price: async (req) => 0.01`' }

const num = (value, digits = 1) => (value === null || value === undefined ? '—' : value.toFixed(digits))
const signed = (value, digits = 1) =>
  value === null || value === undefined ? '—' : `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`
const rate = (value) => (value === null || value === undefined ? '—' : value.toFixed(value >= 1000 ? 0 : 1))

/** Paid `exact` beside the same route with no middleware, and the middleware's CPU per paid request. */
export function frameworksTable(results) {
  const lines = [
    '| framework | no middleware req/s | paid exact req/s | paid ÷ unpaid | failed | paid p50 ms | on the chain: server CPU µs / paid req | less no middleware at that pace | no middleware µs / req at the paid pace (closed loop) | middleware µs / paid req, chain excluded, at the paid pace | ÷ 300 µs | excluded: facilitator µs / req | excluded: anvil µs / req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const f of results) {
    const paid = f.variants?.fixed?.paid
    if (f.error || !paid || paid.error) {
      const why = f.error ?? f.variants?.fixed?.error ?? paid?.error ?? 'no paid run'
      lines.push(`| ${names[f.framework]} | ${rate(f.baseline?.rps)} | not measured: ${why} | | | | | | | | | | |`)
      continue
    }
    lines.push(
      `| ${names[f.framework]} | ${rate(f.baseline?.rps)} | ${rate(paid.rps)} | ${f.baseline?.rps ? `${(paid.rps / f.baseline.rps).toFixed(3)}×` : '—'} | ${paid.failed} of ${paid.total} | ${num(paid.p50, 2)} | ${num(paid.cpuMicros, 0)} | ${num(paid.chainMiddlewareMicros, 0)} | ${num(f.paced?.cpuMicros, 0)} (${num(f.baseline?.cpuMicros, 0)}) | ${num(paid.middlewareMicros, 0)} | ${paid.middlewareMicros === null ? '—' : `${(paid.middlewareMicros / middlewareTargetMicros).toFixed(2)}×`} | ${num(paid.facilitatorMicros, 0)} | ${num(paid.anvilMicros, 0)} |`,
    )
  }
  return lines.join('\n')
}

/** Server CPU µs per request and req/s for each kind of price, on each path, with the extra cost of a function. */
export function dynamicPriceTable(results) {
  const lines = [`| framework | path | ${kinds.fixed} | ${kinds.sync} | ${kinds.async} |`, '|---|---|---:|---:|---:|']
  const cell = (figures, extra, { paid = false } = {}) => {
    if (!figures) return '—'
    const micros = paid ? figures.chainMiddlewareMicros : figures.cpuMicros
    const digits = paid ? 0 : 1
    const delta = extra === undefined ? '' : ` (${signed(extra, digits)})`
    return `${num(micros, digits)} µs${delta} · ${rate(figures.rps)} req/s`
  }
  // Errors are long: each is written once, under the table, and referred to by number.
  const errors = []
  const footnote = (text) => {
    if (!errors.includes(text)) errors.push(text)
    return `see note ${errors.indexOf(text) + 1}`
  }
  for (const f of results) {
    if (f.error) continue
    const v = f.variants
    const x = f.extra ?? {}
    const row = (path, pick, extraKey, options) => {
      const cells = ['fixed', 'sync', 'async'].map((kind) => {
        if (v[kind]?.error) return footnote(v[kind].error)
        const figures = pick(v[kind], kind)
        if (figures?.error) return footnote(`the paid run failed: ${figures.error}`)
        return cell(figures, kind === 'fixed' ? undefined : (x[kind]?.[extraKey] ?? null), options)
      })
      lines.push(`| ${names[f.framework]} | ${path} | ${cells.join(' | ')} |`)
    }
    row('free route (not priced)', (k) => k?.free, 'free')
    row('402, no payment', (k) => k?.required, 'required')
    row(
      'price function returns 0 (served free; Δ vs the free route)',
      (k, kind) => (kind === 'fixed' ? null : k?.freeFn),
      'freeFn',
    )
    row('paid, on the chain: server CPU less no middleware', (k) => k?.paid, 'paid', { paid: true })
  }
  if (errors.length) lines.push('', ...errors.map((e, i) => `${i + 1}. ${e}`))
  return lines.join('\n')
}

/**
 * The target: ≤ 300 µs of the middleware's own CPU per paid request on every framework. The
 * target's figure is the busy one (the server never idle, so its CPU per request is its work);
 * the paced one is shown beside it with the flow's floor, which alone exceeds the target there.
 */
export function frameworkTarget(results) {
  if (results.length === 0) return []
  const list = (figures) =>
    figures
      .map((x) =>
        x.micros === null
          ? `${names[x.framework]} not measured`
          : `${names[x.framework]} ${x.micros.toFixed(0)} µs (${(x.micros / middlewareTargetMicros).toFixed(2)}×)`,
      )
      .join(', ')
  const paced = results.map((f) => ({
    framework: f.framework,
    micros: f.variants?.fixed?.paid?.middlewareMicros ?? null,
  }))
  const busy = results.map((f) => ({ framework: f.framework, micros: f.busy?.paywall?.middlewareMicros ?? null }))
  const floor = floorOf(results)
  const busyFloor = results.find((f) => Number.isFinite(f.busy?.floor?.aboveMicros))?.busy.floor
  const within = (figures) => figures.every((x) => x.micros !== null && x.micros <= middlewareTargetMicros)
  const met = within(busy)
  const pacedMet = within(paced)
  const floorRatio = floor ? (floor.aboveMicros / middlewareTargetMicros).toFixed(2) : null
  return [
    {
      id: 'middleware-cpu',
      target: `the middleware's own CPU ≤ ${middlewareTargetMicros} µs per paid request, chain work excluded, on every framework`,
      measured: `**the server busy** (closed loop, ${results.find((f) => f.busy)?.busy.concurrency ?? '—'} callers, against the framework alone at the same rate): ${list(busy)}${
        busyFloor ? `; the flow's floor ${busyFloor.aboveMicros.toFixed(0)} µs` : ''
      }. At the paid run's pace (idle between requests, each woken three times): ${list(paced)}${
        floor
          ? `; the flow's floor alone (decode, /verify, /settle, answer, on Node \`http\`) ${floor.aboveMicros.toFixed(0)} µs${aboveFloor(results, floor)}`
          : ''
      }`,
      floorMicros: floor?.aboveMicros ?? null,
      ratios: busy,
      pacedRatios: paced,
      met,
      pacedMet,
      status: met
        ? pacedMet
          ? 'met'
          : `met (busy); at the pace the floor alone is ${floorRatio ?? '—'}× the target`
        : '**not met**',
    },
  ]
}

/** The middleware's CPU with the server busy: a closed loop, against the framework at the same rate. */
export function busyTable(results) {
  const lines = [
    '| framework | callers | 402x req/s | 402x server µs / req | no middleware µs / req at that rate | **402x µs / paid req above it** | ÷ 300 µs target | failed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const f of results) {
    const b = f.busy
    if (!b) {
      lines.push(`| ${names[f.framework]} | not measured | | | | | | |`)
      continue
    }
    const row = (label, cell, base, micros) =>
      lines.push(
        `| ${label} | ${b.concurrency} | ${rate(cell.rps)} | ${num(cell.cpuMicros, 0)} | ${num(base.cpuMicros, 0)} | **${num(micros, 0)}** | ${micros === null ? '—' : `${(micros / middlewareTargetMicros).toFixed(2)}×`} | ${cell.failed} of ${cell.total} |`,
      )
    row(names[f.framework], b.paywall, b.paywallBaseline, b.paywall.middlewareMicros)
    if (b.floor) row("the flow's floor (Node `http`)", b.floor, b.floorBaseline, b.floor.aboveMicros)
  }
  return lines.join('\n')
}

/** What 402x adds above the floor, per framework: "; above the floor: Express 120 µs, …". */
function aboveFloor(results, floor) {
  const parts = results
    .filter((f) => Number.isFinite(f.variants?.fixed?.paid?.middlewareMicros))
    .map((f) => `${names[f.framework]} ${(f.variants.fixed.paid.middlewareMicros - floor.aboveMicros).toFixed(0)} µs`)
  return parts.length ? `; 402x above the floor: ${parts.join(', ')}` : ''
}

/** The paid flow's floor (measured once, on Node `http`), if it was measured. */
function floorOf(results) {
  return results.find((f) => f.floor && Number.isFinite(f.floor.aboveMicros))?.floor
}

/** The floor as a sentence for RESULTS.md. */
function floorText(results) {
  const floor = floorOf(results)
  const node = results.find((f) => f.framework === 'node')?.variants?.fixed?.paid
  if (!floor) return "- The paid flow's floor was not measured in this run (it is measured with Node `http`)."
  const rest = middlewareTargetMicros - floor.aboveMicros
  return `- **The paid flow's floor.** A plain Node \`http\` server that does only what any x402 middleware with a
  facilitator at a URL must do per paid request (decode \`PAYMENT-SIGNATURE\`, \`POST /verify\`, \`POST /settle\`
  over keep-alive \`node:http\` with the same bodies, answer with a \`PAYMENT-RESPONSE\`; no checks, no ledger,
  no locks), in the same rounds against the same stand-in facilitator (${rate(floor.rps)} req/s, ${floor.failed} failed of ${floor.total}):
  ${num(floor.cpuMicros, 0)} µs per request, **${num(floor.aboveMicros, 0)} µs above the same server with no middleware**. ${
    rest > 0
      ? `The 300 µs target leaves ${rest.toFixed(0)} µs for everything 402x adds to that`
      : `That alone is ${(floor.aboveMicros / middlewareTargetMicros).toFixed(2)}× the 300 µs target`
  }${node?.middlewareMicros ? `; 402x's adapter on Node \`http\` measured ${node.middlewareMicros.toFixed(0)} µs, ${(node.middlewareMicros - floor.aboveMicros).toFixed(0)} µs above the floor` : ''}.`
}

/** How many times a lone request's CPU is a busy loop's, over the frameworks: "3.1× to 9.8×". */
function wakeRatio(results) {
  const ratios = results
    .map((f) => (f.paced?.cpuMicros && f.baseline?.cpuMicros ? f.paced.cpuMicros / f.baseline.cpuMicros : null))
    .filter((r) => r !== null)
  if (ratios.length === 0) return 'more than'
  const low = Math.min(...ratios).toFixed(1)
  const high = Math.max(...ratios).toFixed(1)
  return low === high ? `${low}×` : `${low}× to ${high}×`
}

/** The RESULTS.md section. */
export function frameworkMarkdown({ frameworks, settings }) {
  const s = settings.frameworks
  return `## Frameworks: paid \`exact\` and the middleware's own CPU

Each framework serves the same routes twice, in two server processes: with no middleware, and behind
402x's adapter for it (Express \`x402Middleware\`, \`402x-api/hono\` \`x402Middleware\`, \`402x-api/fastify\`
\`x402Fastify\`, \`402x-api/node\` \`withX402\`). The paywall's facilitator is a URL: \`createFacilitatorServer\`
(what \`402x facilitator\` runs) in its own process, so the chain work (RPC reads, signing and sending the
transaction, waiting for the receipt) is done by that process and by anvil, not by the server measured.
The target's figure is measured apart, with a stand-in facilitator and no chain at all, with the
server busy (the next section); this table also gives it at the paid run's pace.
${s.concurrency} callers; paid runs of ${s.paidMs / 1000} s after a warm-up of ${s.paidWarmupRequests} paid requests (or ${s.paidWarmupMaxMs / 1000} s).

${frameworksTable(frameworks)}

- **Middleware µs / paid req, chain excluded, at the paid pace** = the paywalled server's own CPU
  (user + system, \`process.cpuUsage()\` read inside it before and after each round) per paid request,
  minus the same framework's with no middleware, median of the per-round differences over
  ${s.standInRounds} alternating rounds of ${s.pacedMs / 1000} s at the paid run's pace (its req/s, evenly spaced,
  ${s.concurrency} connections), every request carrying a distinct signed \`PAYMENT-SIGNATURE\` (which the
  server with no middleware ignores). The paywall's facilitator there is a stand-in (\`bench/servers/echo.js\`:
  well-formed \`/verify\` and \`/settle\` answers after 3 ms and 15 ms, as a facilitator waiting on the chain,
  with no chain), so nothing in the server waits on anvil or shares the CPUs with it. Before these
  rounds, and the busy ones below, each server takes ${s.jitWarmupRequests} paid requests in a closed loop, so that V8 has
  compiled the paid path before its CPU is read.
- What it counts: decoding and checking the payment, the HTTP calls to the facilitator (\`/verify\`,
  \`/settle\`) and parsing their answers, the SQLite ledger (a lookup, an insert and one transition; a
  second, \`settling\`, only when the handler ran for over a second), the locks, holding the handler's
  answer, the \`PAYMENT-RESPONSE\` receipt, and the event-loop wake-ups while it waits for the facilitator.
- **On the chain** (the real paid run): the server's CPU per paid request, less the no-middleware figure
  at that pace. A paid request there is a real settlement (one transaction, awaited) and every successful
  one is checked on chain (see the on-chain check above). On 2 cores the facilitator, anvil, the load
  generator and the server share the CPUs: paid req/s is bound by all four and by the chain round trip,
  not by the server alone; the facilitator's and anvil's CPU are in the last two columns.
- No middleware µs / req: at the paid pace, and in brackets in a closed loop (each caller sends its next
  request when the last one answers, median of ${s.unpaidRounds} rounds of ${s.unpaidRoundMs / 1000} s). A request that arrives
  alone costs the same server ${wakeRatio(frameworks)} the CPU of one in a busy loop (waking an idle process up
  costs CPU), and a paid request wakes the server up several times (the request, then the facilitator's
  answers to \`/verify\` and \`/settle\`): that is why the subtraction uses the paced figure, and part of
  what remains is those extra wake-ups.
${floorText(frameworks)}

### The same with the server busy: the target's figure

The figure above is taken at the paid run's pace: requests evenly spaced, about one every
${(1000 / (frameworks.find((f) => f.variants?.fixed?.paid?.rps)?.variants.fixed.paid.rps ?? 200)).toFixed(1)} ms, so the server is idle between them and each paid request
wakes it up three times. Here the same servers and stand-in facilitator take ${s.busyConcurrency} callers in a
closed loop (each sends its next request as soon as the last is answered), so the server is never idle
and what it spends per request is its work: that is the target's figure (a request's CPU at the pace
is mostly the cost of waking an idle process, which the floor pays as much as 402x). In each of ${s.busyRounds} alternating rounds of ${s.busyMs / 1000} s, the paywall
runs first; then the same framework with no middleware, paced at the rate the paywall reached in that
round (a framework's CPU per request depends on its rate). Median of the per-round differences.

${busyTable(frameworks)}

## Dynamic prices

Server CPU µs per request (median of ${s.unpaidRounds} alternating rounds, closed loop, ${s.concurrency} callers,
all variants' servers running at once) and req/s, for the same route priced three ways; in brackets the
extra CPU against \`price: 0.01\` (median of the per-round differences; for the paid row, the difference of
one paid run each). The paid row is the paid run on the chain, less the framework at that pace.

${dynamicPriceTable(frameworks)}

- A fixed price's payment requirements are computed once, at start-up; with a function they are computed
  per request (run the function, check what it returns, convert it to atomic units), on the 402 and again
  on the paid attempt, and the adapter hands the function the request.
- The free route is a path the route table does not list: it never reaches the price, so its row is a
  control: its differences are this run's noise.
`
}
