import type postgres from 'postgres'
import type { Pg } from '../postgres/openPostgres.js'

/** A pool or a transaction on it. */
type Q = Pg | postgres.TransactionSql<{ bigint: bigint }>

// The statements of the shared quota counters (`createPostgresUsageStore`). A counter row
// (`used`, `reserved`) and the holds that make up its `reserved` are only ever changed with
// that counter row locked first, several counters in `inOrder`, so no two transactions wait
// on each other in a circle.

/** Units of one quota: a key in one period. */
export type Slot = { keyId: string; period: string; units: number }

export const slotId = (keyId: string, period: string) => `${keyId}\n${period}`

/** One lock order for every transaction that takes several counters. */
export const inOrder = (slots: Iterable<Slot>) =>
  [...slots].sort((a, b) => {
    const x = slotId(a.keyId, a.period)
    const y = slotId(b.keyId, b.period)
    return x < y ? -1 : x > y ? 1 : 0
  })

export const addTo = (into: Map<string, Slot>, keyId: string, period: string, units: number) => {
  const slot = into.get(slotId(keyId, period)) ?? { keyId, period, units: 0 }
  slot.units += units
  into.set(slotId(keyId, period), slot)
}

/**
 * Reserves `units` for `holder` in one statement: the counter's `reserved` grows only where
 * `used + reserved + units <= limit` (PostgreSQL re-checks that on the row's latest version
 * when it had to wait for it), and the holder's hold by as much. `undefined`: nothing taken.
 */
export async function take(
  q: Q,
  slot: Slot,
  holder: string,
  limit: number,
  expiresAt: number,
): Promise<{ used: number } | undefined> {
  const { keyId, period, units } = slot
  const [row] = await q<{ used: bigint }[]>`
    with counter as (
      insert into x402_usage_counters as c (key_id, period, used, reserved)
      select ${keyId}, ${period}, 0, ${units}::int8 where ${units}::int8 <= ${limit}::int8
      on conflict (key_id, period) do update set reserved = c.reserved + excluded.reserved
      where c.used + c.reserved + excluded.reserved <= ${limit}::int8
      returning c.used + c.reserved as used
    ), hold as (
      insert into x402_usage_holds (key_id, period, holder, units, expires_at)
      select ${keyId}, ${period}, ${holder}, ${units}, ${expiresAt} from counter
      on conflict (key_id, period, holder) do update
      set units = x402_usage_holds.units + excluded.units, expires_at = excluded.expires_at
    )
    select used from counter`
  return row && { used: Number(row.used) }
}

/** Locks a counter row (the first statement of every other change to it): its sums, if any. */
export async function lockCounter(tx: Q, keyId: string, period: string): Promise<number | undefined> {
  const [row] = await tx<{ used: bigint }[]>`
    select used + reserved as used from x402_usage_counters
    where key_id = ${keyId} and period = ${period} for update`
  return row && Number(row.used)
}

/** With the counter locked: up to `units` off `holder`'s hold, and as much off `reserved`. */
export async function giveBack(tx: Q, slot: Slot, holder: string): Promise<void> {
  const { keyId, period, units } = slot
  // Nothing else changes the hold's units while the counter is locked: `before` is current.
  await tx`
    with before as (
      select units from x402_usage_holds where key_id = ${keyId} and period = ${period} and holder = ${holder}
    ), after as (
      update x402_usage_holds set units = greatest(units - ${units}, 0)
      where key_id = ${keyId} and period = ${period} and holder = ${holder}
      returning units
    )
    update x402_usage_counters set reserved = reserved - ((select units from before) - (select units from after))
    where key_id = ${keyId} and period = ${period} and exists (select 1 from after)`
}

/**
 * With the counter locked: deletes the holds that lapsed by `lapsedBy` (every holder's), or
 * all of `holder`'s, and takes their units off `reserved`. Returns the units given back.
 */
export async function dropHolds(
  tx: Q,
  keyId: string,
  period: string,
  which: { lapsedBy: number } | { holder: string },
): Promise<number> {
  const [row] = await tx<{ units: bigint }[]>`
    with gone as (
      delete from x402_usage_holds where key_id = ${keyId} and period = ${period}
        and ${'holder' in which ? tx`holder = ${which.holder}` : tx`expires_at <= ${which.lapsedBy}`}
      returning units
    ), counted as (
      update x402_usage_counters set reserved = reserved - (select coalesce(sum(units), 0) from gone)
      where key_id = ${keyId} and period = ${period}
    )
    select coalesce(sum(units), 0)::int8 as units from gone`
  return Number(row?.units ?? 0n)
}
