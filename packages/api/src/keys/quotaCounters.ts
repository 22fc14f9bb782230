import { periodsOf } from './periods.js'
import type { UsageEvent } from './types.js'

type Counter = { recorded: number | undefined; reserved: number }

/**
 * The quota counters of one process: per (key, period), the units recorded (read once from
 * the store's events, `seed`) and the units reserved here. Every call is synchronous, so a
 * check and its reservation can never interleave with another's in this process.
 */
export function quotaCounters(seed: (keyId: string, period: string) => number) {
  const counters = new Map<string, Counter>()
  // The periods of the UTC day last asked for: a batch of events is nearly always of one day.
  let today = { from: 0, to: 0, day: '', month: '' }
  const periodsAt = (at: number) => {
    if (at < today.from || at >= today.to) {
      const from = at - (((at % 86_400_000) + 86_400_000) % 86_400_000)
      today = { from, to: from + 86_400_000, ...periodsOf(at) }
    }
    return today
  }
  const counter = (keyId: string, period: string) => {
    const id = `${keyId}\n${period}`
    let c = counters.get(id)
    if (!c) {
      c = { recorded: undefined, reserved: 0 }
      counters.set(id, c)
    }
    c.recorded ??= seed(keyId, period)
    return c
  }
  const used = (c: Counter) => (c.recorded ?? 0) + c.reserved
  return {
    used: (keyId: string, period: string) => used(counter(keyId, period)),
    reserve(keyId: string, period: string, units: number, limit: number) {
      const c = counter(keyId, period)
      if (used(c) + units > limit) return { ok: false, used: used(c) }
      c.reserved += units
      return { ok: true, used: used(c) }
    },
    release(keyId: string, period: string, units: number) {
      const c = counters.get(`${keyId}\n${period}`)
      if (c) c.reserved = Math.max(0, c.reserved - units)
    },
    /** Counts newly recorded events (in the periods already seeded) and releases their reservations. */
    recorded(events: readonly Pick<UsageEvent, 'keyId' | 'units' | 'at' | 'reserved'>[]) {
      for (const event of events) {
        const { day, month } = periodsAt(event.at)
        for (const period of [day, month]) {
          const c = counters.get(`${event.keyId}\n${period}`)
          if (c?.recorded !== undefined) c.recorded += event.units
        }
        for (const r of event.reserved ?? []) this.release(event.keyId, r.period, r.units)
      }
    },
  }
}
