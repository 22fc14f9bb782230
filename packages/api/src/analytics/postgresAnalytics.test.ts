import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { createAnalytics } from './createAnalytics.js'
import { createPostgresAnalyticsStore } from './createPostgresAnalyticsStore.js'
import { postgresLedgerFigures } from './postgresLedgerFigures.js'

const databaseUrl = await postgresUrlOrSkip()

describe('analytics on PostgreSQL', () => {
  it.skipIf(!databaseUrl)('adds every instance’s counts to one table, amounts exact', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const a = createPostgresAnalyticsStore({ url: schema.url })
    const b = createPostgresAnalyticsStore({ url: schema.url })
    try {
      const big = 10n ** 40n + 7n
      const row = { minute: 5, dim: 'route' as const, key: 'GET /x', outcome: 'paid', requests: 2, amount: big }
      await Promise.all([
        a.add([row, { ...row, dim: 'country', key: 'US' }]),
        b.add([{ ...row, requests: 1, amount: 1n }]),
      ])
      const rows = await a.read(0, 10)
      expect(rows).toContainEqual({ ...row, requests: 3, amount: big + 1n })
      expect(rows).toContainEqual({ ...row, dim: 'country', key: 'US' })
      await b.prune(6)
      expect(await a.read(0, 10)).toEqual([])
    } finally {
      await a.close()
      await b.close()
      await schema.drop()
    }
  })

  it.skipIf(!databaseUrl)('takes revenue and settlements from the PostgreSQL ledger', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const ledger = createPostgresLedger({ url: schema.url })
    const analytics = createAnalytics({
      store: createPostgresAnalyticsStore({ url: schema.url }),
      ledger: postgresLedgerFigures(schema.url),
      decimals: 6,
      geo: { lookup: () => 'local', ready: async () => {} },
    })
    try {
      const payer = `0x${'ab'.repeat(20)}`
      for (const [amount, state] of [
        ['10000', 'settled'],
        ['25000', 'pending'],
        ['40000', 'failed'],
      ] as const) {
        const p = newPayment({ payer, amount })
        await ledger.insert(p)
        await ledger.transition(p.id, state, { transaction: `0x${'cd'.repeat(32)}` })
      }
      analytics.record({
        at: Date.now(),
        durationMs: 3,
        route: 'GET /x',
        path: '/x',
        status: 200,
        outcome: 'paid',
        amount: 10_000n,
        payer,
      })
      const stats = await analytics.stats('hour')
      expect(stats.totals).toMatchObject({ revenue: '0.035', payments: 2, requests: 1, paid: 1 })
      expect(stats.settlements).toMatchObject({ settled: 1, pending: 1, failed: 1 })
      expect(stats.topUsers[0]).toEqual({ user: payer, kind: 'payer', requests: 1, revenue: '0.035' })
    } finally {
      await analytics.close()
      await ledger.close()
      await schema.drop()
    }
  })
})
