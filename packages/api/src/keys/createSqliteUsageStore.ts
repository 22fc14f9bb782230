import { checkEvents, checkReservation } from './checkUsage.js'
import { openKeysDb, type SqliteStoreOptions } from './openKeysDb.js'
import { periodBounds } from './periods.js'
import { quotaCounters } from './quotaCounters.js'
import { sqliteUsageComponent } from './sqliteKeySchema.js'
import type { Statement, UsageEvent, UsageStore } from './types.js'

type LineRow = { route: string; calls: number; units: number; high: string; low: string }

/**
 * Usage events in SQLite (WAL), in the ledger's file or its own, and this process's quota
 * counters in front of them (see `UsageStore`): read again from the events after another
 * connection committed (`data_version`).
 *
 * @example
 * const usage = createSqliteUsageStore({ path: '.402x/ledger.db' })
 * await usage.record([{ keyId, route: 'GET /api/data', units: 1, amount: 1000n, asset, status: 200, at: Date.now(), requestId }])
 */
/** How long a recorded event waits for others to share its transaction. */
const groupCommitMs = 5

export function createSqliteUsageStore(options: SqliteStoreOptions): UsageStore {
  const {
    db,
    guard,
    atomically,
    dataVersion,
    fault: storeFault,
  } = openKeysDb(options, sqliteUsageComponent, 'usage store')
  const insert =
    db.prepare(`INSERT OR IGNORE INTO api_usage (request_id, key_id, route, units, amount, asset, status, at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
  const unitsIn = db.prepare(
    'SELECT COALESCE(SUM(units), 0) AS units FROM api_usage WHERE key_id = ? AND at >= ? AND at < ?',
  )
  const lines = db.prepare(`SELECT route, COUNT(*) AS calls, COALESCE(SUM(units), 0) AS units,
      CAST(COALESCE(SUM(CAST(substr(amount, 1, max(length(amount) - 12, 0)) AS INTEGER)), 0) AS TEXT) AS high,
      CAST(COALESCE(SUM(CAST(substr(amount, -12) AS INTEGER)), 0) AS TEXT) AS low
    FROM api_usage WHERE key_id = ? AND at >= ? AND at < ? GROUP BY route ORDER BY route`)
  const counters = quotaCounters((keyId, period) => {
    const { from, to } = periodBounds(period)
    return Number((unitsIn.get(keyId, from, to) as { units: number | bigint }).units)
  })
  let seenVersion = dataVersion()
  /** Another connection committed: what the counters read from the events is read again. */
  const fresh = () => {
    const version = dataVersion()
    if (version !== seenVersion) {
      seenVersion = version
      counters.reseed()
    }
    return counters
  }
  // Group commit: the events recorded within a few milliseconds (concurrent requests) go in
  // one transaction, written before any of their `record` promises resolve. A read
  // (`statement`, `used`) writes what is queued first: it sees every recorded event.
  let queued: { events: UsageEvent[]; done: (error?: unknown) => void }[] = []
  const flush = () => {
    const batch = queued
    queued = []
    try {
      const c = fresh()
      const added = atomically(() =>
        batch.flatMap((item) =>
          item.events.filter(
            (e) =>
              Number(
                insert.run(e.requestId, e.keyId, e.route, e.units, String(e.amount), e.asset, e.status, e.at).changes,
              ) === 1,
          ),
        ),
      )
      c.recorded(added)
      for (const item of batch) item.done()
    } catch (error) {
      for (const item of batch) item.done(error)
    }
  }
  return {
    record: (events) =>
      guard(() => checkEvents(events)).then(
        () =>
          new Promise<void>((resolve, reject) => {
            if (queued.length === 0) setTimeout(flush, groupCommitMs)
            queued.push({ events, done: (error) => (error ? reject(storeFault(error)) : resolve()) })
          }),
      ),
    statement: (keyId, from, to) =>
      guard((): Statement => {
        if (queued.length) flush()
        const rows = (lines.all(keyId, from, to) as LineRow[]).map((row) => ({
          route: row.route,
          calls: Number(row.calls),
          units: Number(row.units),
          amount: BigInt(row.high) * 10n ** 12n + BigInt(row.low),
        }))
        const total = rows.reduce(
          (sum, line) => ({
            calls: sum.calls + line.calls,
            units: sum.units + line.units,
            amount: sum.amount + line.amount,
          }),
          { calls: 0, units: 0, amount: 0n },
        )
        return { keyId, from, to, lines: rows, total }
      }),
    used: (keyId, period) =>
      guard(() => {
        periodBounds(period)
        if (queued.length) flush()
        return fresh().used(keyId, period)
      }),
    reserve: (keyId, period, units, limit) =>
      guard(() => {
        checkReservation(period, units, limit)
        return fresh().reserve(keyId, period, units, limit)
      }),
    release: (keyId, period, units) =>
      guard(() => {
        checkReservation(period, units)
        counters.release(keyId, period, units)
      }),
    close: () =>
      guard(() => {
        // Events queued for this turn's commit are written first.
        if (queued.length) flush()
        db.close()
      }),
  }
}
