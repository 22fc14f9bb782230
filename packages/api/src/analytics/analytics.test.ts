import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatMoney } from '@402x/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { createMemoryPaymentLedger } from '../stores/createMemoryPaymentLedger.js'
import { createAnalytics } from './createAnalytics.js'
import { createMemoryAnalyticsStore } from './createMemoryAnalyticsStore.js'
import { createSqliteAnalyticsStore } from './createSqliteAnalyticsStore.js'
import { latencyBinOf, latencyBins, percentile } from './latencyHistogram.js'
import { listLedgerFigures } from './ledgerFigures.js'
import { outcomeOf } from './minuteBuckets.js'
import { sqliteLedgerFigures } from './sqliteLedgerFigures.js'
import type { RecordedRequest } from './types.js'

const dir = mkdtempSync(join(tmpdir(), '402x-analytics-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A request as the paywall's `request` event gives it. */
const request = (overrides: Partial<RecordedRequest> = {}): RecordedRequest => ({
  at: Date.now(),
  durationMs: 4,
  route: 'GET /api/weather/:city',
  path: '/api/weather/paris',
  status: 200,
  outcome: 'paid',
  amount: 10_000n,
  payer: '0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa',
  ip: '127.0.0.1',
  ...overrides,
})

describe('latency histogram', () => {
  it('puts a duration in the first bin whose bound holds it, and reads percentiles back', () => {
    expect(latencyBinOf(0)).toBe(0)
    expect(latencyBins[latencyBinOf(3.2)]).toBeGreaterThanOrEqual(3.2)
    expect(latencyBins[latencyBinOf(3.2) - 1]).toBeLessThan(3.2)
    expect(latencyBinOf(10 ** 9)).toBe(latencyBins.length - 1)
    const counts = new Array(latencyBins.length).fill(0)
    for (let i = 0; i < 90; i++) counts[latencyBinOf(2)]++
    for (let i = 0; i < 10; i++) counts[latencyBinOf(500)]++
    const p50 = percentile(counts, 0.5) as number
    const p95 = percentile(counts, 0.95) as number
    expect(p50).toBeGreaterThanOrEqual(2)
    expect(p50).toBeLessThan(2.5)
    expect(p95).toBeGreaterThanOrEqual(500)
    expect(p95).toBeLessThan(600)
    expect(percentile(new Array(latencyBins.length).fill(0), 0.5)).toBeNull()
  })
})

describe('outcomes', () => {
  it('counts refusals by status: 402, 429, other 4xx, 5xx', () => {
    expect(outcomeOf({ outcome: 'refused', status: 402 })).toBe('402')
    expect(outcomeOf({ outcome: 'refused', status: 429 })).toBe('429')
    expect(outcomeOf({ outcome: 'refused', status: 401 })).toBe('4xx')
    expect(outcomeOf({ outcome: 'error', status: 503 })).toBe('5xx')
    expect(outcomeOf({ outcome: 'credit', status: 200 })).toBe('credit')
  })
})

describe('SQLite analytics store', () => {
  it('adds counts to what is stored (two processes on one file each add theirs), amounts exact', async () => {
    const path = join(dir, 'shared.analytics.db')
    const a = createSqliteAnalyticsStore({ path })
    const b = createSqliteAnalyticsStore({ path })
    const big = 123_456_789_012_345_678_901_234_567_890n
    const row = { minute: 100, dim: 'route' as const, key: 'GET /x', outcome: 'paid', requests: 2, amount: big }
    await a.add([row])
    await b.add([{ ...row, requests: 3, amount: 1n }])
    await b.add([{ ...row, minute: 200 }])
    expect(await a.read(0, 150)).toEqual([{ ...row, requests: 5, amount: big + 1n }])
    expect(await a.read(150, 300)).toHaveLength(1)
    await a.prune(150)
    expect(await b.read(0, 300)).toEqual([{ ...row, minute: 200 }])
    await a.close()
    await b.close()
  })
})

describe('stats', () => {
  it('equal the SQLite ledger: revenue, payments, payers and settlements from the ledger; requests from the buckets', async () => {
    const ledgerPath = join(dir, 'ledger.db')
    const ledger = createSqliteLedger({ path: ledgerPath })
    const payer = '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    const analytics = createAnalytics({
      store: createSqliteAnalyticsStore({ path: join(dir, 'ledger.analytics.db') }),
      ledger: sqliteLedgerFigures(ledgerPath),
      decimals: 6,
      geo: { lookup: () => 'local', ready: async () => {} },
    })
    try {
      // Three settled, one pending (all money received), one failed and one released (not).
      const states = ['settled', 'settled', 'settled', 'pending', 'failed', 'released'] as const
      for (const [i, state] of states.entries()) {
        const p = newPayment({ payer, amount: String(10_000 * (i + 1)) })
        expect(await ledger.insert(p)).toBe(true)
        expect(await ledger.transition(p.id, state, { transaction: `0x${String(i).repeat(64)}` })).toBe(true)
        if (state === 'settled' || state === 'pending') analytics.record(request({ amount: BigInt(p.amount) }))
      }
      analytics.record(request({ outcome: 'credit', amount: 2_500n, payer: undefined, account: 'acct-1' }))
      analytics.record(request({ outcome: 'refused', status: 402, amount: 0n, payer: undefined }))
      analytics.record(request({ outcome: 'refused', status: 429, amount: 0n, payer: undefined }))
      analytics.record(request({ outcome: 'error', status: 503, amount: 0n, payer: undefined, route: 'GET /b' }))
      const stats = await analytics.stats('hour')
      const paid = (await ledger.list()).filter((p) => ['settled', 'pending', 'reconciled'].includes(p.state))
      const sum = paid.reduce((total, p) => total + BigInt(p.amount), 0n)
      expect(sum).toBe(100_000n)
      expect(stats.totals.revenue).toBe(formatMoney(sum))
      expect(stats.totals.revenue).toBe('0.1')
      expect(stats.totals.payments).toBe(paid.length)
      expect(stats.settlements).toMatchObject({ settled: 3, pending: 1, failed: 1 })
      expect(stats.settlements.recent).toHaveLength(5)
      expect(stats.settlements.recent[0]).toMatchObject({ state: 'failed', explorerUrl: null })
      // The buckets agree with the ledger: every payment was one paid request.
      const routeRevenue = stats.byRoute.reduce((total, r) => total + Number(r.revenue), 0)
      expect(routeRevenue).toBe(Number(stats.totals.revenue))
      expect(stats.series.reduce((total, s) => total + Number(s.revenue), 0)).toBe(0.1)
      expect(stats.totals).toMatchObject({ requests: 8, paid: 4, credit: 1, refused: 3, creditCharged: '0.0025' })
      expect(stats.byOutcome).toMatchObject({ paid: 4, credit: 1, '402': 1, '429': 1, '5xx': 1, '4xx': 0 })
      expect(stats.byRoute.find((r) => r.route === 'GET /b')).toMatchObject({ requests: 1, errors: 1 })
      expect(stats.byRoute[0]?.p50).toBeGreaterThanOrEqual(4)
      expect(stats.topUsers[0]).toEqual({ user: payer, kind: 'payer', requests: 4, revenue: '0.1' })
      expect(stats.topUsers).toContainEqual({ user: 'acct-1', kind: 'account', requests: 1, revenue: '0.0025' })
      expect(stats.countries).toEqual([{ country: 'local', requests: 8, revenue: '0.1025' }])
      expect(stats.series).toHaveLength(60)
      // Another range reads the same rows: a day holds the hour.
      expect((await analytics.stats('day')).totals).toEqual(stats.totals)
      expect((await analytics.stats('30d')).totals.revenue).toBe('0.1')
    } finally {
      await analytics.close()
      await ledger.close()
    }
  })

  it('keep counting across a restart: the aggregates were written to the store', async () => {
    const path = join(dir, 'restart.analytics.db')
    const ledger = createMemoryPaymentLedger()
    const open = () =>
      createAnalytics({
        store: createSqliteAnalyticsStore({ path }),
        ledger: listLedgerFigures(ledger),
        decimals: 6,
        geo: { lookup: () => 'local', ready: async () => {} },
      })
    const first = open()
    first.record(request())
    first.record(request({ outcome: 'free', amount: 0n }))
    await first.close()
    const second = open()
    second.record(request({ outcome: 'key', keyId: 'key_1', payer: undefined, amount: 1_000n }))
    try {
      const stats = await second.stats('hour')
      expect(stats.totals).toMatchObject({ requests: 3, paid: 1, free: 1, key: 1 })
      expect(stats.topUsers).toContainEqual({ user: 'key_1', kind: 'key', requests: 1, revenue: '0.001' })
    } finally {
      await second.close()
    }
  })

  it('leave the minutes before the range out', async () => {
    const analytics = createAnalytics({
      store: createMemoryAnalyticsStore(),
      ledger: listLedgerFigures(createMemoryPaymentLedger()),
      decimals: 6,
      geo: { lookup: () => 'local', ready: async () => {} },
    })
    analytics.record(request({ at: Date.now() - 2 * 3_600_000 }))
    analytics.record(request())
    try {
      expect((await analytics.stats('hour')).totals.requests).toBe(1)
      expect((await analytics.stats('day')).totals.requests).toBe(2)
    } finally {
      await analytics.close()
    }
  })
})
