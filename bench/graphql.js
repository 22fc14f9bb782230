// node bench/graphql.js [--quick]   (also `node bench/run.js --only graphql`)
//
// A priced GraphQL query paid by a credit token against the same server without 402x, on
// Apollo Server 5 and GraphQL Yoga: requests per second of each, in one run, alternated
// (plain, priced, plain, priced) so that a load change on the machine hits both sides.
// Target: priced ≥ 0.8× plain on each server. No chain: credit is drawn in process.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServer, stopAll } from './lib/children.js'
import { runLoad } from './lib/load.js'

const script = fileURLToPath(new URL('./servers/graphql.js', import.meta.url))
const query = '{ user(id: "1") { name email } posts(first: 5) { title } }'
const path = `/graphql?query=${encodeURIComponent(query)}`

/**
 * Runs the section: `{ rows: [{ server, plain, priced, ratio }], target }`. Per server, the
 * plain and the priced child run side by side for the whole section: each is warmed for
 * `warmupMs` (a server's code is compiled as it runs, and the priced one has more of it),
 * then `rounds` timed runs of `durationMs` alternate between them. `plain` and `priced` are
 * the medians of the rounds' req/s, `ratio` the median of the per-round ratios.
 */
export async function runGraphQL({
  // This 2-core machine's speed drifts by a third within seconds (a plain round at 192 µs of
  // CPU per request, the next at 272): many short rounds pair each side with the other closely.
  durationMs = 2000,
  warmupMs = 3000,
  rounds = 12,
  concurrency = 8,
  progress = () => {},
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), '402x-bench-graphql-'))
  const rows = []
  const median = (list) => {
    const sorted = [...list].sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
  try {
    for (const server of ['apollo', 'yoga']) {
      const children = {}
      try {
        for (const side of ['plain', 'priced']) {
          const child = await startServer(script, {
            server,
            paywall: side === 'priced',
            ledger: join(dir, `${server}.db`),
          })
          // Apollo's CSRF guard wants a non-simple header on GET.
          const headers = {
            'apollo-require-preflight': 'true',
            ...(child.ready.token ? { authorization: `Bearer ${child.ready.token}` } : {}),
          }
          children[side] = { child, headers, expect: side === 'priced' ? 'credit' : 200 }
        }
        for (const side of ['plain', 'priced']) {
          const { child, headers, expect } = children[side]
          await runLoad({ port: child.port, path, concurrency, durationMs: warmupMs, headers, expect })
        }
        const sides = { plain: [], priced: [] }
        const cpu = { plain: [], priced: [] }
        for (let round = 0; round < rounds; round++) {
          // Which side goes first alternates too, so that neither always follows the other.
          const order = round % 2 ? ['priced', 'plain'] : ['plain', 'priced']
          for (const side of order) {
            const { child, headers, expect } = children[side]
            // The server's own CPU time over the timed run, per request: what the machine's
            // other load does not change as much as req/s.
            const before = await child.cpu()
            const run = await runLoad({ port: child.port, path, concurrency, durationMs, headers, expect })
            const micros = ((await child.cpu()) - before) / run.total
            if (run.failed > 0)
              throw new Error(`${server} ${side}: ${run.failed} failed: ${JSON.stringify(run.reasons)}`)
            sides[side].push(run.rps)
            cpu[side].push(micros)
            progress(
              `graphql ${server} ${side} ${round + 1}/${rounds}: ${run.rps.toFixed(0)} req/s, ${micros.toFixed(0)} µs CPU/req (p50 ${run.p50?.toFixed(2)} ms)`,
            )
          }
        }
        rows.push({
          server,
          plain: median(sides.plain),
          priced: median(sides.priced),
          ratio: median(sides.priced.map((rps, i) => rps / sides.plain[i])),
          plainMicros: median(cpu.plain),
          pricedMicros: median(cpu.priced),
        })
      } finally {
        for (const { child } of Object.values(children)) await child.stop()
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return { rows, concurrency, target: 0.8, met: rows.every((row) => row.ratio >= 0.8) }
}

/** The section as a Markdown table. */
export function graphqlTable({ rows, concurrency, target }) {
  const lines = [
    `| server (${concurrency} callers) | plain req/s | priced, credit token, req/s | ratio | target ≥ ${target}× | server CPU µs/req plain → priced |`,
    '| --- | ---: | ---: | ---: | --- | ---: |',
  ]
  for (const row of rows) {
    const name = row.server === 'apollo' ? 'Apollo Server 5' : 'GraphQL Yoga 5'
    lines.push(
      `| ${name} | ${row.plain.toFixed(0)} | ${row.priced.toFixed(0)} | ${row.ratio.toFixed(2)}× | ${row.ratio >= target ? 'met' : 'missed'} | ${row.plainMicros.toFixed(0)} → ${row.pricedMicros.toFixed(0)} (+${(row.pricedMicros - row.plainMicros).toFixed(0)}) |`,
    )
  }
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  try {
    const result = await runGraphQL({
      ...(quick ? { durationMs: 1000, warmupMs: 2000, rounds: 4 } : {}),
      progress: (line) => process.stderr.write(`${line}\n`),
    })
    process.stdout.write(`${graphqlTable(result)}\n`)
  } finally {
    await stopAll()
  }
}
