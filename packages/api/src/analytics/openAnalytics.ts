import type { ResolvedPaywall } from '../paywall/resolvePaywall.js'
import { createAnalytics } from './createAnalytics.js'
import { createMemoryAnalyticsStore } from './createMemoryAnalyticsStore.js'
import { createPostgresAnalyticsStore } from './createPostgresAnalyticsStore.js'
import { createSqliteAnalyticsStore } from './createSqliteAnalyticsStore.js'
import { listLedgerFigures } from './ledgerFigures.js'
import { postgresLedgerFigures } from './postgresLedgerFigures.js'
import { sqliteLedgerFigures } from './sqliteLedgerFigures.js'
import type { AnalyticsStore } from './types.js'

/** The analytics file beside a SQLite ledger: `ledger.db` → `ledger.analytics.db`. */
export const analyticsPathFor = (ledgerPath: string) => ledgerPath.replace(/(\.db)?$/, '.analytics.db')

/**
 * The paywall's analytics, beside its ledger: a SQLite ledger's in a file next to it, a
 * PostgreSQL ledger's in the same database, a ledger given in code's in memory. Nothing is
 * opened before the first write or read.
 *
 * @example
 * const analytics = openAnalytics(config)
 */
export function openAnalytics(config: Pick<ResolvedPaywall, 'ledger' | 'ledgerAt' | 'asset'>) {
  const at = config.ledgerAt
  if (at && 'url' in at) {
    return createAnalytics({
      store: lazy(() => createPostgresAnalyticsStore({ url: at.url })),
      ledger: postgresLedgerFigures(at.url),
      decimals: config.asset.decimals,
    })
  }
  if (at && at.path !== ':memory:') {
    return createAnalytics({
      store: lazy(() => createSqliteAnalyticsStore({ path: analyticsPathFor(at.path) })),
      ledger: sqliteLedgerFigures(at.path),
      decimals: config.asset.decimals,
    })
  }
  return createAnalytics({
    store: createMemoryAnalyticsStore(),
    ledger: listLedgerFigures(config.ledger),
    decimals: config.asset.decimals,
  })
}

/** A store opened on its first use. */
function lazy(open: () => AnalyticsStore): AnalyticsStore {
  let store: AnalyticsStore | undefined
  const get = () => {
    store ??= open()
    return store
  }
  return {
    add: (rows) => get().add(rows),
    read: (from, to) => get().read(from, to),
    prune: (before) => get().prune(before),
    close: async () => {
      await store?.close()
    },
  }
}
