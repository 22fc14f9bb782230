import { checkEvents, checkEventsQuery, checkReservation } from './checkUsage.js'
import { openKeysDb, type SqliteStoreOptions } from './openKeysDb.js'
import { periodBounds } from './periods.js'
import { quotaCounters } from './quotaCounters.js'
import { sqliteUsageComponent } from './sqliteKeySchema.js'
import type { Statement, UsageEvent, UsageStore } from './types.js'
import { type UsageRow, usageEventOf } from './usageRow.js'

type LineRow = { route: string; calls: number; units: number; high: string; low: string }
/**
 * Usage events in SQLite (WAL), in the ledger's file or its own, and this process's quota
 * counters in front of them (see `UsageStore`). Events are only ever added, each under a
 * rowid above the last: the counters keep up with other connections' events by reading the
 * rows past the last one seen (nothing when none came), never by adding the period again.
 *
 * @example
 * const usage = createSqliteUsageStore({ path: '.402x/ledger.db' })
 * await usage.record([{ keyId, route: 'GET /api/data', units: 1, amount: 1000n, asset, status: 200, at: Date.now(), requestId }])
 */
/**
 * How long a recorded event waits for others to share its transaction (docs/api-keys.md): at
 * a few hundred calls a second a commit of 5 ms held one or two events, and its fixed cost
 * (the transaction, its WAL frames, a timer's wake-up) was most of what a call cost.
 */
const groupCommitMs = 20
/** How stale `reserveNow` may read what other connections recorded (docs/api-keys.md). */
const freshEveryMs = 10

type NewRow = { rowid: number | bigint; key_id: string; units: number | bigint; at: number | bigint }

export function createSqliteUsageStore(options: SqliteStoreOptions): UsageStore {
  const opened = openKeysDb(options, sqliteUsageComponent, 'usage store')
  const { db, guard, atomically, fault: storeFault, ensureOpen } = opened
  // Up to `chunk` events per INSERT (one statement per batch size, prepared on first use):
  // one call into SQLite for a group commit's events rather than one each.
  const chunk = 32
  const inserts = new Map<number, ReturnType<typeof db.prepare>>()
  const insertOf = (rows: number) => {
    let statement = inserts.get(rows)
    if (!statement) {
      statement = db.prepare(
        `INSERT OR IGNORE INTO api_usage (request_id, key_id, route, units, amount, asset, status, at) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      )
      inserts.set(rows, statement)
    }
    return statement
  }
  const idsAfter = db.prepare('SELECT request_id FROM api_usage WHERE rowid > ?')
  /**
   * Inserts `events` (under the write lock, every row up to `seen` counted): those not
   * recorded before. A statement that skipped some (a retried `record`) is asked which rows it
   * added: theirs are the rowids after the last one before it.
   */
  const insertNew = (events: UsageEvent[]): UsageEvent[] => {
    const added: UsageEvent[] = []
    let last = seen
    for (let at = 0; at < events.length; at += chunk) {
      const part = events.slice(at, at + chunk)
      const args: unknown[] = []
      for (const e of part) args.push(e.requestId, e.keyId, e.route, e.units, String(e.amount), e.asset, e.status, e.at)
      const changes = Number(insertOf(part.length).run(...args).changes)
      if (changes === part.length) added.push(...part)
      else if (changes > 0) {
        const fresh = new Set((idsAfter.all(last) as { request_id: string }[]).map((r) => r.request_id))
        // Each id once: the same event twice in one call is recorded once.
        added.push(...part.filter((e) => fresh.delete(e.requestId)))
      }
      last += changes
    }
    return added
  }
  // A counter's first reading sums the rows up to the last one seen; those after it are
  // counted as they are read (`catchUp`), so that none is counted twice.
  const unitsIn = db.prepare(
    'SELECT COALESCE(SUM(units), 0) AS units FROM api_usage WHERE key_id = ? AND at >= ? AND at < ? AND rowid <= ?',
  )
  const rowsAfter = db.prepare('SELECT rowid, key_id, units, at FROM api_usage WHERE rowid > ? ORDER BY rowid')
  const lastRowid = db.prepare('SELECT COALESCE(MAX(rowid), 0) AS last FROM api_usage')
  const lines = db.prepare(`SELECT route, COUNT(*) AS calls, COALESCE(SUM(units), 0) AS units,
      CAST(COALESCE(SUM(CAST(substr(amount, 1, max(length(amount) - 12, 0)) AS INTEGER)), 0) AS TEXT) AS high,
      CAST(COALESCE(SUM(CAST(substr(amount, -12) AS INTEGER)), 0) AS TEXT) AS low
    FROM api_usage WHERE key_id = ? AND at >= ? AND at < ? GROUP BY route ORDER BY route`)
  // Keyset pages of a period, on (at, request_id) (migration 2): every key's, or one key's.
  const page = `SELECT request_id, key_id, route, units, amount, asset, status, at FROM api_usage
    WHERE at >= @from AND at < @to AND (at > @at OR (at = @at AND request_id > @requestId))`
  const eventsPage = db.prepare(`${page} ORDER BY at, request_id LIMIT @limit`)
  const keyEventsPage = db.prepare(`${page} AND key_id = @keyId ORDER BY at, request_id LIMIT @limit`)
  let seen = Number((lastRowid.get() as { last: number | bigint }).last)
  const counters = quotaCounters((keyId, period) => {
    const { from, to } = periodBounds(period)
    return Number((unitsIn.get(keyId, from, to, seen) as { units: number | bigint }).units)
  })
  /** Counts what other connections recorded since the last row seen (one indexed read). */
  const fresh = () => {
    const rows = rowsAfter.all(seen) as NewRow[]
    if (rows.length) {
      seen = Number((rows.at(-1) as NewRow).rowid)
      counters.recorded(rows.map((r) => ({ keyId: r.key_id, units: Number(r.units), at: Number(r.at) })))
    }
    return counters
  }
  /**
   * {@link fresh} for the hot path (`reserveNow`): at most every {@link freshEveryMs} (each
   * read is a read transaction on the file, several µs).
   */
  let checkedAt = Number.NEGATIVE_INFINITY
  const freshNow = () => {
    const now = Date.now()
    if (now - checkedAt < freshEveryMs && now >= checkedAt) return counters
    checkedAt = now
    return fresh()
  }
  // Group commit: the events recorded within `groupCommitMs` (concurrent requests) go in
  // one transaction, written before any of their `record` promises resolve. A read
  // (`statement`, `used`) writes what is queued first: it sees every recorded event.
  let queued: { events: UsageEvent[]; resolve: () => void; reject: (error: unknown) => void }[] = []
  const flush = () => {
    const batch = queued
    if (batch.length === 0) return
    queued = []
    try {
      const { added, last } = atomically(() => {
        // Under the write lock: the others' rows first, then ours after them.
        fresh()
        const mine = insertNew(batch.flatMap((item) => item.events))
        return { added: mine, last: mine.length ? Number((lastRowid.get() as { last: number | bigint }).last) : seen }
      })
      // Committed: our rows are seen (a rolled-back one never is, and its rowid may come again).
      seen = last
      counters.recorded(added)
      for (const item of batch) item.resolve()
    } catch (error) {
      for (const item of batch) item.reject(storeFault(error))
    }
  }
  return {
    record: (events) => {
      try {
        ensureOpen()
        checkEvents(events)
      } catch (error) {
        return Promise.reject(storeFault(error))
      }
      // Queued at once (one promise per call: every served key call makes one).
      return new Promise<void>((resolve, reject) => {
        if (queued.length === 0) setTimeout(flush, groupCommitMs)
        queued.push({ events, resolve, reject })
      })
    },
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
    events: (query) =>
      guard(() => {
        const { from, to, keyId, after, limit } = checkEventsQuery(query)
        if (queued.length) flush()
        const params = { from, to, at: after.at, requestId: after.requestId, limit }
        const rows = (
          keyId === undefined ? eventsPage.all(params) : keyEventsPage.all({ ...params, keyId })
        ) as UsageRow[]
        return rows.map(usageEventOf)
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
    reserveNow(keyId, period, units, limit) {
      try {
        ensureOpen()
        checkReservation(period, units, limit)
        return freshNow().reserve(keyId, period, units, limit)
      } catch (error) {
        throw storeFault(error)
      }
    },
    release: (keyId, period, units) =>
      guard(() => {
        checkReservation(period, units)
        counters.release(keyId, period, units)
      }),
    close: () =>
      guard(() => {
        // Events queued for this turn's commit are written first.
        if (queued.length) flush()
        opened.close()
      }),
  }
}
