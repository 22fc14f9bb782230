import { randomBytes } from 'node:crypto'
import { X402Error } from '@402x/core'
import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import { checkEvents, checkReservation } from './checkUsage.js'
import { periodBounds, periodsOf } from './periods.js'
import { usageSchema } from './postgresKeySchema.js'
import type { Statement, UsageEvent, UsageStore } from './types.js'

export type PostgresUsageStoreOptions = ({ url: string } | { sql: Pg }) & {
  /**
   * How long this store object's quota reservations count without it renewing them (ms). It
   * renews them every third of it while it holds any, so they last as long as it lives; the
   * reservations of a killed instance stop counting this long after its last renewal.
   * @default 60000
   */
  leaseMs?: number
  /**
   * The clock (ms epoch) of reservation leases. Instances sharing a database should agree
   * on the time to well within `leaseMs` (NTP).
   * @default Date.now
   */
  now?: () => number
}

type Slot = { keyId: string; period: string; units: number }
const slotId = (keyId: string, period: string) => `${keyId}\n${period}`
/** One lock order for every transaction that takes several rows: no two can deadlock. */
const inOrder = (slots: Iterable<Slot>) =>
  [...slots].sort((a, b) => {
    const x = slotId(a.keyId, a.period)
    const y = slotId(b.keyId, b.period)
    return x < y ? -1 : x > y ? 1 : 0
  })
const add = (into: Map<string, Slot>, keyId: string, period: string, units: number) => {
  const slot = into.get(slotId(keyId, period)) ?? { keyId, period, units: 0 }
  slot.units += units
  into.set(slotId(keyId, period), slot)
}

/**
 * Usage events and quota counters on PostgreSQL, shared by every instance: a reserve locks
 * its (key, period) counter, weighs the units recorded and every instance's live
 * reservations against the limit, and takes its units in the same transaction, so that the
 * reserves of all instances together never take a quota past its limit. `record` inserts
 * the events, counts their units and gives back their reservations in one transaction
 * (idempotent by `requestId`). Each store object's reservations are a lease it renews while
 * it holds any (`leaseMs`): those of a killed instance stop counting once it lapses, and
 * `close()` gives back what it still holds.
 *
 * @example
 * const usage = createPostgresUsageStore({ url: process.env.X402_DATABASE_URL })
 * const held = await usage.reserve(key.id, periodsOf(Date.now()).month, 1, 5000)
 */
export function createPostgresUsageStore(options: PostgresUsageStoreOptions): UsageStore {
  const clock = options.now ?? Date.now
  const leaseMs = options.leaseMs ?? 60_000
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 3) {
    throw new X402Error('invalid_config', {
      message: `leaseMs is ${leaseMs}: give how long a reservation lasts unrenewed, in ms, e.g. 60000`,
      details: { option: 'leaseMs' },
    })
  }
  const pool =
    'sql' in options ? { sql: options.sql, release: async () => {} } : openPostgres(options.url, 'X402_DATABASE_URL')
  const { sql } = pool
  /** This store object, in the holds it takes (the process, for an operator reading them). */
  const holder = `${process.pid}:${randomBytes(6).toString('hex')}`
  let closed = false

  // What this object holds, by (key, period): while it holds anything its leases are renewed.
  const held = new Map<string, number>()
  let timer: ReturnType<typeof setInterval> | undefined
  let beating = false
  const beat = async () => {
    if (beating) return
    beating = true
    try {
      const now = clock()
      // Rows another statement has locked are being written, and renewed or given back there.
      await sql`update x402_usage_holds set expires_at = ${now + leaseMs}
        where ctid in (select ctid from x402_usage_holds
          where holder = ${holder} and units > 0 for update skip locked)`
      // Lapsed a lease ago (a killed instance's, or emptied): no reserve counts them any more.
      await sql`delete from x402_usage_holds
        where ctid in (select ctid from x402_usage_holds
          where expires_at <= ${now - leaseMs} limit 1000 for update skip locked)`
    } catch {
      // The database is down: the next beat tries again, and until then the leases run on.
    } finally {
      beating = false
    }
  }
  const hold = (keyId: string, period: string, units: number) => {
    held.set(slotId(keyId, period), (held.get(slotId(keyId, period)) ?? 0) + units)
    if (!timer && !closed) {
      timer = setInterval(() => void beat(), Math.floor(leaseMs / 3))
      timer.unref()
    }
  }
  const unhold = (keyId: string, period: string, units: number) => {
    const left = (held.get(slotId(keyId, period)) ?? 0) - units
    if (left > 0) held.set(slotId(keyId, period), left)
    else held.delete(slotId(keyId, period))
    if (held.size === 0 && timer) {
      clearInterval(timer)
      timer = undefined
    }
  }

  const run = <T>(fn: () => Promise<T>) =>
    guarded(sql, 'usage', async () => {
      if (closed) throw new X402Error('store_unavailable', { message: 'the usage store is closed' })
      await ensureSchema(sql, usageSchema)
      return fn()
    })

  return {
    record: (events) =>
      run(async () => {
        checkEvents(events)
        const unique = new Map<string, UsageEvent>()
        for (const e of events) if (!unique.has(e.requestId)) unique.set(e.requestId, e)
        if (unique.size === 0) return
        const rows = [...unique.values()].map((e) => ({
          request_id: e.requestId,
          key_id: e.keyId,
          route: e.route,
          units: e.units,
          amount: String(e.amount),
          asset: e.asset,
          status: e.status,
          at: e.at,
        }))
        const given = await sql.begin(async (tx) => {
          const inserted = await tx<{ request_id: string }[]>`insert into x402_usage ${tx(rows)}
            on conflict (request_id) do nothing returning request_id`
          const counts = new Map<string, Slot>()
          const gives = new Map<string, Slot>()
          for (const { request_id } of inserted) {
            const e = unique.get(request_id) as UsageEvent
            const { day, month } = periodsOf(e.at)
            add(counts, e.keyId, day, e.units)
            add(counts, e.keyId, month, e.units)
            for (const r of e.reserved ?? []) add(gives, e.keyId, r.period, r.units)
          }
          if (counts.size > 0) {
            const counted = inOrder(counts.values()).map((c) => ({ key_id: c.keyId, period: c.period, used: c.units }))
            await tx`insert into x402_usage_counters ${tx(counted)}
              on conflict (key_id, period) do update set used = x402_usage_counters.used + excluded.used`
          }
          for (const g of inOrder(gives.values()))
            await tx`update x402_usage_holds set units = greatest(units - ${g.units}, 0)
              where key_id = ${g.keyId} and period = ${g.period} and holder = ${holder}`
          return [...gives.values()]
        })
        for (const g of given) unhold(g.keyId, g.period, g.units)
      }),
    statement: (keyId, from, to) =>
      run(async (): Promise<Statement> => {
        const found = await sql<{ route: string; calls: bigint; units: bigint; amount: string }[]>`
          select route, count(*)::int8 as calls, coalesce(sum(units), 0)::int8 as units,
            coalesce(sum(amount), 0)::text as amount
          from x402_usage where key_id = ${keyId} and at >= ${from} and at < ${to} group by route`
        // Sorted here, as the other stores sort: the database's collation may order otherwise.
        const lines = found
          .map((row) => ({
            route: row.route,
            calls: Number(row.calls),
            units: Number(row.units),
            amount: BigInt(row.amount),
          }))
          .sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0))
        const total = { calls: 0, units: 0, amount: 0n }
        for (const line of lines) {
          total.calls += line.calls
          total.units += line.units
          total.amount += line.amount
        }
        return { keyId, from, to, lines, total }
      }),
    used: (keyId, period) =>
      run(async () => {
        periodBounds(period)
        const [row] = await sql<{ used: bigint }[]>`select (
            coalesce((select used from x402_usage_counters where key_id = ${keyId} and period = ${period}), 0)
            + coalesce((select sum(units) from x402_usage_holds
                where key_id = ${keyId} and period = ${period} and expires_at > ${clock()}), 0)
          )::int8 as used`
        return Number(row?.used ?? 0n)
      }),
    reserve: (keyId, period, units, limit) =>
      run(async () => {
        checkReservation(period, units, limit)
        const result = await sql.begin(async (tx) => {
          const now = clock()
          // The counter's row lock: every reserve of this quota, in any instance, waits here.
          const [counter] = await tx<{ used: bigint }[]>`
            insert into x402_usage_counters (key_id, period) values (${keyId}, ${period})
            on conflict (key_id, period) do update set used = x402_usage_counters.used
            returning used`
          // A new statement, so a new snapshot: it sees every hold committed before the lock.
          const [holds] = await tx<{ reserved: bigint }[]>`
            with lapsed as (
              delete from x402_usage_holds where ctid in (select ctid from x402_usage_holds
                where key_id = ${keyId} and period = ${period} and expires_at <= ${now} for update skip locked)
            )
            select coalesce(sum(units), 0)::int8 as reserved from x402_usage_holds
            where key_id = ${keyId} and period = ${period} and expires_at > ${now}`
          const used = Number(counter?.used ?? 0n) + Number(holds?.reserved ?? 0n)
          if (used + units > limit) return { ok: false, used }
          await tx`insert into x402_usage_holds (key_id, period, holder, units, expires_at)
            values (${keyId}, ${period}, ${holder}, ${units}, ${now + leaseMs})
            on conflict (key_id, period, holder) do update
            set units = x402_usage_holds.units + excluded.units, expires_at = excluded.expires_at`
          return { ok: true, used: used + units }
        })
        if (result.ok) hold(keyId, period, units)
        return result
      }),
    release: (keyId, period, units) =>
      run(async () => {
        checkReservation(period, units)
        await sql`update x402_usage_holds set units = greatest(units - ${units}, 0)
          where key_id = ${keyId} and period = ${period} and holder = ${holder}`
        unhold(keyId, period, units)
      }),
    async close() {
      if (closed) return
      closed = true
      if (timer) clearInterval(timer)
      timer = undefined
      // What is still held was never served: give it back now rather than at the lease's end.
      if (held.size > 0) await sql`delete from x402_usage_holds where holder = ${holder}`.catch(() => {})
      held.clear()
      await pool.release()
    },
  }
}
