import { appKey } from '../paywall/appPaywalls.js'
import type { ResolvedPaywall } from '../paywall/resolvePaywall.js'
import { analyticsPathFor } from './analyticsPath.js'
import { type Analytics, createAnalytics } from './createAnalytics.js'
import { createMemoryAnalyticsStore } from './createMemoryAnalyticsStore.js'
import { createPostgresAnalyticsStore } from './createPostgresAnalyticsStore.js'
import { createSqliteAnalyticsStore } from './createSqliteAnalyticsStore.js'
import { listLedgerFigures } from './ledgerFigures.js'
import { postgresLedgerFigures } from './postgresLedgerFigures.js'
import { sqliteLedgerFigures } from './sqliteLedgerFigures.js'
import type { AnalyticsStore } from './types.js'

type Config = Pick<ResolvedPaywall, 'ledger' | 'ledgerAt' | 'asset' | 'routes'>

/** The analytics of each ledger in this process, shared by every paywall on it. */
const shared = new Map<unknown, { analytics: Analytics; users: number }>()

/**
 * The analytics of a paywall's ledger, shared by every paywall of the process on the same
 * ledger (an app with one middleware per route has one dashboard, and one live stream, for
 * all of them): `attach` its events, `release` when it closes (the last closes the store).
 *
 * @example
 * const { analytics, attach, release } = openAnalytics(config)
 * const detach = attach(rt.events)
 */
export function openAnalytics(config: Config) {
  // One app (appPaywalls.ts), one set of analytics; an in-memory ledger has its own.
  const key = appKey(config)
  let entry = key === undefined ? undefined : shared.get(key)
  if (!entry) {
    entry = { analytics: analyticsFor(config), users: 0 }
    if (key !== undefined) shared.set(key, entry)
  }
  entry.users += 1
  // The routes of its table are counted apart always; only paths callers make up are capped.
  entry.analytics.reserveRoutes(config.routes.flatMap((r) => (r.pattern ? [r.pattern.source] : [])))
  const mine = entry
  let released = false
  return {
    analytics: mine.analytics,
    attach: mine.analytics.attach,
    async release() {
      if (released) return
      released = true
      mine.users -= 1
      if (mine.users > 0) return
      if (shared.get(key) === mine) shared.delete(key)
      await mine.analytics.close()
    },
  }
}

/**
 * Analytics beside a ledger: a SQLite ledger's in a file next to it, a PostgreSQL ledger's
 * in the same database, a ledger given in code's in memory. Nothing is opened before the
 * first write or read.
 */
function analyticsFor(config: Config): Analytics {
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
