import { EventEmitter } from 'node:events'
import { createGeoCountry, type GeoCountry } from './geoCountry.js'
import type { LedgerFiguresReader } from './ledgerFigures.js'
import { createMinuteBuckets } from './minuteBuckets.js'
import { createRouteKeys } from './routeKeys.js'
import { type Stats, statsOf } from './statsOf.js'
import { rangeWindow, type StatsRange } from './statsRange.js'
import type { AnalyticsStore, MinuteRow, RecordedRequest } from './types.js'

export type AnalyticsOptions = {
  /** Where the minute aggregates are kept. */
  store: AnalyticsStore
  /** The ledger of record's figures (revenue, settlements) for a range. */
  ledger: LedgerFiguresReader
  /** The asset's decimals, for dollar strings. */
  decimals: number
  /**
   * How often the aggregates are written to the store.
   * @default 5000
   */
  flushMs?: number
  /**
   * How long minute aggregates are kept (ms).
   * @default 31 days
   */
  retainMs?: number
  /**
   * How many distinct routes are counted apart (besides those `reserveRoutes` names); the
   * requests of the rest count under `other` (routeKeys.ts).
   * @default 200
   */
  maxRoutes?: number
  geo?: GeoCountry
}

/** How long a request waits to be counted with others (at most), and how many may wait. */
const countEveryMs = 100
const maxQueued = 20_000

/**
 * The dashboard's analytics: requests counted per minute by route (at most `maxRoutes`
 * apart), outcome, country and user with latency histograms, in memory and written to `store` every `flushMs`; stats
 * of a range from the store (and what is not written yet), revenue from the ledger.
 *
 * @example
 * const analytics = createAnalytics({ store, ledger: sqliteLedgerFigures(path), decimals: 6 })
 * paywall.events.on('request', analytics.record)
 * const stats = await analytics.stats('hour')
 */
export function createAnalytics(options: AnalyticsOptions) {
  const { store, ledger, decimals } = options
  const geo = options.geo ?? createGeoCountry()
  const retainMs = options.retainMs ?? 31 * 86_400_000
  const buckets = createMinuteBuckets()
  const routes = createRouteKeys(options.maxRoutes)
  /** The request as counted: its route folded into `other` past the routes' cap. */
  const counted = (request: RecordedRequest): RecordedRequest => {
    const route = routes.keyOf(request.route)
    return route === request.route ? request : { ...request, route }
  }
  let waiting: RecordedRequest[] = []
  let writing: Promise<void> = Promise.resolve()
  let lastPrune = 0
  /**
   * Requests are queued as they come (a reference each) and counted together, at most
   * {@link countEveryMs} later and before anything reads the counts: one loop over many
   * requests costs a busy server a fraction of the same work done request by request.
   */
  let queued: RecordedRequest[] = []
  let countTimer: ReturnType<typeof setTimeout> | undefined
  const countQueued = () => {
    if (countTimer) clearTimeout(countTimer)
    countTimer = undefined
    const batch = queued
    queued = []
    for (const seen of batch) count(seen)
  }
  const record = (seen: RecordedRequest) => {
    // The dashboard's own page loads are not the API's traffic.
    if (seen.path.startsWith('/__402x/dashboard')) return
    queued.push(seen)
    if (queued.length >= maxQueued) countQueued()
    else if (!countTimer) {
      countTimer = setTimeout(countQueued, countEveryMs)
      countTimer.unref?.()
    }
  }
  const count = (seen: RecordedRequest) => {
    const request = counted(seen)
    const country = geo.lookup(request.ip)
    if (country !== undefined) return buckets.add(request, country)
    // The country table is loading (once per process): count the request when it is in.
    if (waiting.length < 50_000) waiting.push(request)
    if (waiting.length === 1) {
      void geo.ready(request.ip as string).then(() => {
        const queued = waiting
        waiting = []
        for (const r of queued) buckets.add(r, geo.lookup(r.ip) ?? 'unknown')
      })
    }
  }
  /** Writes what was counted; one write at a time, in order. A failed write is kept for the next. */
  const flush = (): Promise<void> => {
    countQueued()
    writing = writing.then(async () => {
      const rows = buckets.drain()
      if (rows.length === 0) return
      try {
        await store.add(rows)
      } catch {
        // The store is down: keep the counts (the timer writes them later).
        restore(rows)
      }
      const now = Date.now()
      if (now - lastPrune > 3_600_000) {
        lastPrune = now
        await store.prune(Math.floor((now - retainMs) / 60_000)).catch(() => {})
      }
    })
    return writing
  }
  const pendingRows: MinuteRow[] = []
  const restore = (rows: MinuteRow[]) => {
    pendingRows.push(...rows)
    if (pendingRows.length > 200_000) pendingRows.splice(0, pendingRows.length - 200_000)
  }
  const timer = setInterval(() => {
    if (pendingRows.length) {
      const retry = pendingRows.splice(0)
      void store.add(retry).catch(() => restore(retry))
    }
    if (buckets.size || queued.length) void flush()
  }, options.flushMs ?? 5_000)
  timer.unref()
  // The live stream's source: every paywall attached (openAnalytics) relays its events here.
  const live = new EventEmitter()
  live.setMaxListeners(0)
  return {
    record,
    flush,
    live,
    /**
     * Listens to one paywall's events: its requests are counted, its requests and payments
     * relayed to `live`. Returns how to stop.
     */
    attach(events: Pick<EventEmitter, 'on' | 'off'>): () => void {
      const onRequest = (seen: RecordedRequest) => {
        record(seen)
        if (live.listenerCount('request') > 0) live.emit('request', counted(seen))
      }
      const onPayment = (payment: unknown) => {
        if (live.listenerCount('payment') > 0) live.emit('payment', payment)
      }
      events.on('request', onRequest)
      events.on('payment', onPayment)
      return () => {
        events.off('request', onRequest)
        events.off('payment', onPayment)
      }
    },
    /** Routes that always count under their own key: the patterns of a paywall's route table. */
    reserveRoutes: routes.reserve,
    /** The figures of a range ending now. */
    async stats(range: StatsRange, now = Date.now()): Promise<Stats> {
      await flush()
      const window = rangeWindow(range, now)
      const [rows, figures] = await Promise.all([
        store.read(Math.floor(window.from / 60_000), Math.floor(window.to / 60_000) + 1),
        ledger.figures(window.from, window.to + 1, window.stepMs),
      ])
      const inFlight = pendingRows.filter((r) => r.minute >= Math.floor(window.from / 60_000))
      return statsOf({ range, ...window, rows: [...rows, ...inFlight], ledger: figures, decimals })
    },
    async close() {
      clearInterval(timer)
      // Counts what is queued first (`flush` does), then writes it.
      await flush().catch(() => {})
      await store.close()
      await ledger.close()
    },
  }
}

export type Analytics = ReturnType<typeof createAnalytics>
