import { randomBytes } from 'node:crypto'
import { X402Error } from '@402x/core'
import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import { groupCommit } from '../stores/groupCommit.js'
import { checkEvents, checkEventsQuery, checkReservation } from './checkUsage.js'
import { periodBounds, periodsOf } from './periods.js'
import { usageSchema } from './postgresKeySchema.js'
import { addTo, dropHolds, giveBack, inOrder, lockCounter, type Slot, slotId, take } from './postgresQuota.js'
import type { Statement, UsageEvent, UsageStore } from './types.js'
import { type UsageRow, usageEventOf } from './usageRow.js'

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

/**
 * Usage events and quota counters on PostgreSQL, shared by every instance: a reserve is one
 * conditional update of its (key, period) counter (`used + reserved + units <= limit`), so
 * the reserves of all instances together never take a quota past its limit. `record`
 * inserts the events, counts their units and turns their reservations into them in one
 * transaction (idempotent by `requestId`). Each store object's reservations are a lease it
 * renews while it holds any (`leaseMs`): those of a killed instance stop counting once it
 * lapses (given back by the next reserve they would refuse), and `close()` gives back what
 * it still holds.
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
  const held = new Map<string, Slot>()
  let timer: ReturnType<typeof setInterval> | undefined
  let beating = false
  const beat = async () => {
    if (beating) return
    beating = true
    try {
      const now = clock()
      // Renewing changes no units: rows being written now are skipped, and renewed next time.
      await sql`update x402_usage_holds set expires_at = ${now + leaseMs}
        where ctid in (select ctid from x402_usage_holds
          where holder = ${holder} and units > 0 for update skip locked)`
      // Lapsed a lease ago (a killed instance's, or emptied): given back, counter by counter.
      const lapsed = await sql<{ key_id: string; period: string }[]>`
        select distinct key_id, period from x402_usage_holds where expires_at <= ${now - leaseMs} limit 100`
      for (const { key_id, period } of lapsed) await sweep(key_id, period, now)
    } catch {
      // The database is down: the next beat tries again, and until then the leases run on.
    } finally {
      beating = false
    }
  }
  const hold = (keyId: string, period: string, units: number) => {
    addTo(held, keyId, period, units)
    if (!timer && !closed) {
      timer = setInterval(() => void beat(), Math.floor(leaseMs / 3))
      timer.unref()
    }
  }
  const unhold = (keyId: string, period: string, units: number) => {
    const slot = held.get(slotId(keyId, period))
    if (slot) slot.units -= units
    if (slot && slot.units <= 0) held.delete(slotId(keyId, period))
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
  /** Gives back the holds of a quota that lapsed by `now`. */
  const sweep = (keyId: string, period: string, now: number) =>
    sql.begin(async (tx) => {
      if ((await lockCounter(tx, keyId, period)) !== undefined) await dropHolds(tx, keyId, period, { lapsedBy: now })
    })

  /** Writes the events of every `record` call of this moment in one transaction. */
  const recordNow = (events: UsageEvent[]) =>
    run(async () => {
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
          addTo(counts, e.keyId, day, e.units)
          addTo(counts, e.keyId, month, e.units)
          for (const r of e.reserved ?? []) {
            addTo(gives, e.keyId, r.period, r.units)
            addTo(counts, e.keyId, r.period, 0)
          }
        }
        if (counts.size > 0) {
          // Every counter this record changes, locked here in one order, then its holds.
          const counted = inOrder(counts.values()).map((c) => ({ key_id: c.keyId, period: c.period, used: c.units }))
          await tx`insert into x402_usage_counters ${tx(counted)}
              on conflict (key_id, period) do update set used = x402_usage_counters.used + excluded.used`
        }
        for (const g of inOrder(gives.values())) await giveBack(tx, g, holder)
        return [...gives.values()]
      })
      for (const g of given) unhold(g.keyId, g.period, g.units)
    })
  // The group commit (stores/groupCommit.ts): calls that come while a batch is written go
  // together in the next, so that concurrent served calls of one key do not queue one
  // transaction each on its counter row.
  let queued: { events: UsageEvent[]; done: (error?: unknown) => void }[] = []
  const flush = async () => {
    const batch = queued
    queued = []
    const error = await recordNow(batch.flatMap((b) => b.events)).then(
      () => undefined,
      (e: unknown) => e ?? new Error('usage record failed'),
    )
    for (const b of batch) b.done(error)
  }
  const schedule = groupCommit(() => queued.length, flush)

  return {
    record: async (events) => {
      checkEvents(events)
      await new Promise<void>((resolve, reject) => {
        queued.push({ events, done: (error) => (error === undefined ? resolve() : reject(error)) })
        schedule()
      })
    },
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
    events: (query) =>
      run(async () => {
        const { from, to, keyId, after, limit } = checkEventsQuery(query)
        // Ids compared and ordered in byte order ("C"), as the index (migration 2) and the other stores.
        const rows = await sql<
          UsageRow[]
        >`select request_id, key_id, route, units::int8 as units, amount::text as amount, asset, status, at
          from x402_usage where at >= ${from} and at < ${to}
            and (at > ${after.at} or (at = ${after.at} and request_id collate "C" > ${after.requestId}))
            ${keyId === undefined ? sql`` : sql`and key_id = ${keyId}`}
          order by at, request_id collate "C" limit ${limit}`
        return rows.map(usageEventOf)
      }),
    used: (keyId, period) =>
      run(async () => {
        periodBounds(period)
        // What lapsed and is not given back yet counts no more.
        const [row] = await sql<{ used: bigint }[]>`
          select (used + reserved - coalesce((select sum(units) from x402_usage_holds
              where key_id = ${keyId} and period = ${period} and expires_at <= ${clock()}), 0))::int8 as used
          from x402_usage_counters where key_id = ${keyId} and period = ${period}`
        return Number(row?.used ?? 0n)
      }),
    reserve: (keyId, period, units, limit) =>
      run(async () => {
        checkReservation(period, units, limit)
        const slot = { keyId, period, units }
        let result: { ok: boolean; used: number } | undefined
        for (let attempt = 0; !result; attempt++) {
          const now = clock()
          const taken = await take(sql, slot, holder, limit, now + leaseMs)
          if (taken) result = { ok: true, used: taken.used }
          else {
            // Refused: unless lapsed holds were in the way (given back now, then once more).
            const [seen] = await sql<{ used: bigint; lapsed: boolean }[]>`
              select (used + reserved)::int8 as used, exists (select 1 from x402_usage_holds
                where key_id = ${keyId} and period = ${period} and expires_at <= ${now}) as lapsed
              from x402_usage_counters where key_id = ${keyId} and period = ${period}`
            if (!seen?.lapsed || attempt > 0) result = { ok: false, used: Number(seen?.used ?? 0n) }
            else await sweep(keyId, period, now)
          }
        }
        if (result.ok) hold(keyId, period, units)
        return result
      }),
    release: (keyId, period, units) =>
      run(async () => {
        checkReservation(period, units)
        await sql.begin(async (tx) => {
          if ((await lockCounter(tx, keyId, period)) !== undefined) await giveBack(tx, { keyId, period, units }, holder)
        })
        unhold(keyId, period, units)
      }),
    async close() {
      if (closed) return
      closed = true
      if (timer) clearInterval(timer)
      timer = undefined
      // What is still held was never served: give it back now rather than at the lease's end.
      for (const { keyId, period } of held.values())
        await sql
          .begin(async (tx) => {
            if ((await lockCounter(tx, keyId, period)) !== undefined) await dropHolds(tx, keyId, period, { holder })
          })
          .catch(() => {})
      held.clear()
      await pool.release()
    },
  }
}
