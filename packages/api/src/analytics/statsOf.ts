import { formatMoney } from '@402x/core'
import { latencyBins, percentile } from './latencyHistogram.js'
import type { LedgerFigures } from './ledgerFigures.js'
import type { StatsRange } from './statsRange.js'
import { type MinuteRow, type Outcome, outcomes } from './types.js'

type Counts = Record<Outcome, number>
const zero = (): Counts => ({ paid: 0, credit: 0, key: 0, free: 0, '402': 0, '429': 0, '4xx': 0, '5xx': 0 })
const refusedOf = (c: Counts) => c['402'] + c['429'] + c['4xx'] + c['5xx']

/** The networks whose transactions an explorer shows, and where. */
const explorers: Record<string, string> = {
  'eip155:8453': 'https://basescan.org/tx/',
  'eip155:84532': 'https://sepolia.basescan.org/tx/',
  'eip155:1': 'https://etherscan.io/tx/',
  'eip155:11155111': 'https://sepolia.etherscan.io/tx/',
}

/** A transaction's page on its network's explorer; `undefined` on the local chain (show the hash). */
export function explorerUrl(network: string, transaction: string | undefined): string | undefined {
  const base = explorers[network]
  return base && transaction ? `${base}${transaction}` : undefined
}

/** What `GET /__402x/admin/stats` answers, amounts as dollar strings and times as ISO strings. */
export type StatsInput = {
  range: StatsRange
  from: number
  to: number
  stepMs: number
  slots: number
  rows: readonly MinuteRow[]
  ledger: LedgerFigures
  decimals: number
}

/**
 * The stats of a range: requests, outcomes, latency, users and countries from the minute
 * aggregates; revenue (money received), its series, the payers' revenue and the
 * settlements from the ledger of record, so they equal the ledger's.
 *
 * @example
 * const body = statsOf({ range: 'hour', ...rangeWindow('hour'), rows, ledger, decimals: 6 })
 */
export function statsOf(input: StatsInput) {
  const { from, stepMs, slots, rows, ledger, decimals } = input
  const usd = (n: bigint) => formatMoney(n, decimals)
  const totals = zero()
  const series = Array.from({ length: slots }, () => ({ counts: zero(), charged: 0n }))
  const routes = new Map<string, { counts: Counts; paid: bigint; credit: bigint; bins: number[] }>()
  const users = new Map<string, { requests: number; charged: bigint }>()
  const countries = new Map<string, { requests: number; charged: bigint }>()
  let charged = 0n
  let creditCharged = 0n
  const routeOf = (key: string) => {
    let route = routes.get(key)
    if (!route) {
      route = { counts: zero(), paid: 0n, credit: 0n, bins: [] }
      routes.set(key, route)
    }
    return route
  }
  for (const row of rows) {
    const outcome = row.outcome as Outcome
    if (row.dim === 'latency') {
      const bins = routeOf(row.key).bins
      const bin = Number(row.outcome)
      if (bin >= 0 && bin < latencyBins.length) bins[bin] = (bins[bin] ?? 0) + row.requests
      continue
    }
    if (!outcomes.includes(outcome)) continue
    if (row.dim === 'route') {
      totals[outcome] += row.requests
      charged += row.amount
      if (outcome !== 'paid') creditCharged += row.amount
      const slot = series[Math.min(slots - 1, Math.max(0, Math.floor((row.minute * 60_000 - from) / stepMs)))]
      if (slot) {
        slot.counts[outcome] += row.requests
        slot.charged += row.amount
      }
      const route = routeOf(row.key)
      route.counts[outcome] += row.requests
      if (outcome === 'paid') route.paid += row.amount
      else route.credit += row.amount
    } else {
      const map = row.dim === 'user' ? users : countries
      const known = map.get(row.key) ?? { requests: 0, charged: 0n }
      known.requests += row.requests
      known.charged += row.amount
      map.set(row.key, known)
    }
  }
  const requests = (c: Counts) => outcomes.reduce((sum, o) => sum + c[o], 0)
  return {
    range: input.range,
    from: new Date(from).toISOString(),
    to: new Date(input.to).toISOString(),
    stepSeconds: stepMs / 1000,
    totals: {
      requests: requests(totals),
      paid: totals.paid,
      credit: totals.credit,
      key: totals.key,
      free: totals.free,
      refused: refusedOf(totals),
      revenue: usd(ledger.revenue),
      payments: ledger.payments,
      charged: usd(charged),
      creditCharged: usd(creditCharged),
    },
    byOutcome: Object.fromEntries(outcomes.map((o) => [o, totals[o]])) as Counts,
    byRoute: [...routes]
      .filter(([, r]) => requests(r.counts) > 0)
      .map(([route, r]) => ({
        route,
        requests: requests(r.counts),
        revenue: usd(r.paid),
        credit: usd(r.credit),
        p50: percentile(r.bins, 0.5),
        p95: percentile(r.bins, 0.95),
        p99: percentile(r.bins, 0.99),
        errors: r.counts['5xx'] + r.counts['4xx'],
        byOutcome: r.counts,
      }))
      .sort((a, b) => b.requests - a.requests),
    series: series.map((slot, i) => ({
      t: new Date(from + i * stepMs).toISOString(),
      requests: requests(slot.counts),
      paid: slot.counts.paid,
      credit: slot.counts.credit,
      key: slot.counts.key,
      free: slot.counts.free,
      refused: refusedOf(slot.counts),
      '402': slot.counts['402'],
      '429': slot.counts['429'],
      '4xx': slot.counts['4xx'],
      '5xx': slot.counts['5xx'],
      revenue: usd(ledger.bySlot.get(i) ?? 0n),
      charged: usd(slot.charged),
    })),
    topUsers: topUsers(users, ledger).map((u) => ({ ...u, revenue: usd(u.revenue) })),
    countries: [...countries]
      .map(([country, c]) => ({ country, requests: c.requests, revenue: usd(c.charged) }))
      .sort((a, b) => b.requests - a.requests),
    settlements: {
      ...ledger.settlements,
      recent: ledger.recent.map((s) => ({
        id: s.id,
        state: s.state,
        amount: usd(s.amount),
        payer: s.payer,
        network: s.network,
        resource: s.resource,
        transaction: s.transaction ?? null,
        explorerUrl: explorerUrl(s.network, s.transaction) ?? null,
        createdAt: new Date(s.createdAt).toISOString(),
      })),
    },
  }
}

export type Stats = ReturnType<typeof statsOf>

/**
 * The users by revenue and by requests (the top 25 of each, merged): a payer's revenue is
 * the ledger's (what it paid), a key's or credit account's what its requests were charged.
 */
function topUsers(users: Map<string, { requests: number; charged: bigint }>, ledger: LedgerFigures) {
  const all = new Map<string, { user: string; kind: 'payer' | 'key' | 'account'; requests: number; revenue: bigint }>()
  for (const [id, u] of users) {
    const colon = id.indexOf(':')
    const kind = id.slice(0, colon) as 'payer' | 'key' | 'account'
    all.set(id, { user: id.slice(colon + 1), kind, requests: u.requests, revenue: kind === 'payer' ? 0n : u.charged })
  }
  for (const [payer, p] of ledger.byPayer) {
    const id = `payer:${payer}`
    const known = all.get(id) ?? { user: payer, kind: 'payer' as const, requests: 0, revenue: 0n }
    known.revenue = p.amount
    all.set(id, known)
  }
  const list = [...all.values()]
  const byRevenue = [...list].sort((a, b) => (b.revenue > a.revenue ? 1 : b.revenue < a.revenue ? -1 : 0))
  const byRequests = [...list].sort((a, b) => b.requests - a.requests)
  const picked = new Set([...byRevenue.slice(0, 25), ...byRequests.slice(0, 25)])
  return byRevenue.filter((u) => picked.has(u))
}
