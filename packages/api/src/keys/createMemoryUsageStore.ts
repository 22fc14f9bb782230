import { X402Error } from '@402x/core'
import { checkEvents, checkEventsQuery, checkReservation, eventOrder } from './checkUsage.js'
import { periodBounds } from './periods.js'
import { quotaCounters } from './quotaCounters.js'
import type { Statement, UsageEvent, UsageStore } from './types.js'

/** Sums events into a statement, one line per route (sorted). */
export function toStatement(keyId: string, from: number, to: number, events: Iterable<UsageEvent>): Statement {
  const lines = new Map<string, Statement['lines'][number]>()
  const total = { calls: 0, units: 0, amount: 0n }
  for (const e of events) {
    if (e.keyId !== keyId || e.at < from || e.at >= to) continue
    const line = lines.get(e.route) ?? { route: e.route, calls: 0, units: 0, amount: 0n }
    line.calls += 1
    line.units += e.units
    line.amount += e.amount
    lines.set(e.route, line)
    total.calls += 1
    total.units += e.units
    total.amount += e.amount
  }
  const sorted = [...lines.values()].sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0))
  return { keyId, from, to, lines: sorted, total }
}

/**
 * Usage events and quota counters in this process's memory, for tests and throwaway servers:
 * gone when the process ends.
 *
 * @example
 * const usage = createMemoryUsageStore()
 * const held = await usage.reserve(key.id, periodsOf(Date.now()).month, 1, plan.quota.month ?? Infinity)
 */
export function createMemoryUsageStore(): UsageStore {
  const events = new Map<string, UsageEvent>()
  const byKey = new Map<string, UsageEvent[]>()
  let closed = false
  const counters = quotaCounters((keyId, period) => {
    const { from, to } = periodBounds(period)
    return (byKey.get(keyId) ?? []).reduce((sum, e) => (e.at >= from && e.at < to ? sum + e.units : sum), 0)
  })
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw new X402Error('store_unavailable', { message: 'the usage store is closed' })
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return {
    record: (list) =>
      run(() => {
        checkEvents(list)
        const fresh: UsageEvent[] = []
        for (const e of list) {
          if (events.has(e.requestId)) continue
          const copy = { ...e }
          delete copy.reserved
          events.set(e.requestId, copy)
          const own = byKey.get(e.keyId)
          if (own) own.push(copy)
          else byKey.set(e.keyId, [copy])
          fresh.push(e)
        }
        counters.recorded(fresh)
      }),
    statement: (keyId, from, to) => run(() => toStatement(keyId, from, to, byKey.get(keyId) ?? [])),
    events: (query) =>
      run(() => {
        const { from, to, keyId, after, limit } = checkEventsQuery(query)
        const source = keyId === undefined ? events.values() : (byKey.get(keyId) ?? [])
        const page: UsageEvent[] = []
        for (const e of source) if (e.at >= from && e.at < to && eventOrder(e, after) > 0) page.push({ ...e })
        return page.sort(eventOrder).slice(0, limit)
      }),
    used: (keyId, period) =>
      run(() => {
        periodBounds(period)
        return counters.used(keyId, period)
      }),
    reserve: (keyId, period, units, limit) =>
      run(() => {
        checkReservation(period, units, limit)
        return counters.reserve(keyId, period, units, limit)
      }),
    reserveNow(keyId, period, units, limit) {
      if (closed) throw new X402Error('store_unavailable', { message: 'the usage store is closed' })
      checkReservation(period, units, limit)
      return counters.reserve(keyId, period, units, limit)
    },
    release: (keyId, period, units) =>
      run(() => {
        checkReservation(period, units)
        counters.release(keyId, period, units)
      }),
    close: () => {
      closed = true
      return Promise.resolve()
    },
  }
}
