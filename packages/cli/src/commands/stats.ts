import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminCall, adminTarget } from '../adminClient.js'
import { withJsonErrors } from '../jsonErrors.js'

export const statsUsage = `  402x stats [--range hour|day|30d] [--json] [--url URL] [--token T]
      Requests, outcomes, revenue (the ledger's), latency per route, top users and
      settlements of the last hour, day or 30 days (the dashboard's figures, /__402x/dashboard).`

type Stats = {
  range: string
  from: string
  totals: Record<string, number | string>
  byOutcome: Record<string, number>
  byRoute: {
    route: string
    requests: number
    revenue: string
    credit: string
    p50: number | null
    p95: number | null
    p99: number | null
  }[]
  topUsers: { user: string; kind: string; requests: number; revenue: string }[]
  countries: { country: string; requests: number; revenue: string }[]
  settlements: { settled: number; pending: number; failed: number }
}

/**
 * `402x stats`: the admin API's `GET /stats` for a range, as a summary or (`--json`) its
 * one line of JSON; a failure with `--json` is `{ error, message }` and exit 1.
 */
export async function stats(args: string[]): Promise<number> {
  const json = args.includes('--json')
  return withJsonErrors('stats', args, async () => {
    const { values } = parseArgs({
      args,
      options: {
        range: { type: 'string', default: 'hour' },
        json: { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
      },
    })
    if (!['hour', 'day', '30d'].includes(values.range)) {
      throw new X402Error('invalid_request', {
        message: `--range is "${values.range}": give --range hour, --range day or --range 30d`,
      })
    }
    const target = adminTarget({ url: values.url, token: values.token })
    const answer = (await adminCall(target, 'GET', `/stats?range=${values.range}`)) as unknown as Stats
    process.stdout.write(json ? `${JSON.stringify(answer)}\n` : `${summary(answer, target.url)}\n`)
    return 0
  })
}

const ms = (n: number | null) => (n === null ? '-' : `${n}ms`)

function summary(s: Stats, url: string): string {
  const t = s.totals
  const o = s.byOutcome
  const lines = [
    `${url}: the last ${s.range === '30d' ? '30 days' : s.range} (since ${s.from})`,
    `  requests ${t.requests}: paid ${o.paid}, credit ${o.credit}, key ${o.key}, free ${o.free}; refused 402 ${o['402']}, 429 ${o['429']}, 4xx ${o['4xx']}, 5xx ${o['5xx']}`,
    `  revenue  $${t.revenue} in ${t.payments} payments (the ledger's); $${t.creditCharged} charged to credit and keys`,
    `  settlements settled ${s.settlements.settled}, pending ${s.settlements.pending}, failed ${s.settlements.failed}`,
  ]
  if (s.byRoute.length) {
    lines.push(
      '',
      'ROUTE'.padEnd(34) +
        'REQUESTS'.padStart(9) +
        'REVENUE'.padStart(12) +
        'P50'.padStart(9) +
        'P95'.padStart(9) +
        'P99'.padStart(9),
    )
    for (const r of s.byRoute)
      lines.push(
        r.route.slice(0, 33).padEnd(34) +
          String(r.requests).padStart(9) +
          `$${r.revenue}`.padStart(12) +
          ms(r.p50).padStart(9) +
          ms(r.p95).padStart(9) +
          ms(r.p99).padStart(9),
      )
  } else lines.push('', '  no requests yet: pay a route with `npx 402x pay <url>`')
  if (s.topUsers.length) {
    lines.push('', 'TOP USERS')
    for (const u of s.topUsers.slice(0, 5))
      lines.push(`  ${u.kind.padEnd(8)} ${u.user}  ${u.requests} requests, $${u.revenue}`)
  }
  return lines.join('\n')
}
