import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { atOnce, freshBackends, type OpenBackend } from '../stores/contract.fixture.js'
import { periodsOf } from './periods.js'
import type { UsageEvent, UsageStore } from './types.js'

const at = Date.UTC(2026, 11, 6, 12)
const { day, month } = periodsOf(at)
const event = (overrides: Partial<UsageEvent> = {}): UsageEvent => ({
  keyId: 'key_a',
  route: 'GET /api/data',
  units: 1,
  amount: 1_000n,
  asset: '0xusdc',
  status: 200,
  at,
  requestId: `req_${randomUUID()}`,
  ...overrides,
})

export type UsageStoreContractOptions = {
  /**
   * Whether the two handles share their reservations (one object, or counters in a shared
   * database: memory, PostgreSQL) rather than each keeping its own (SQLite's are per process).
   * @default false
   */
  sharedReservations?: boolean
}

/**
 * The `UsageStore` contract (`keys/types.ts`), run against one implementation. Events are
 * seen on both handles; reservations are made and read on one handle, unless the store
 * shares them (`sharedReservations`), when both handles reserve against one limit.
 */
export function usageStoreContract(
  name: string,
  open: OpenBackend<UsageStore>,
  options: UsageStoreContractOptions = {},
) {
  describe(`UsageStore contract: ${name}`, () => {
    const fresh = freshBackends(open)

    it('sums a statement per route exactly, amounts above 2^53 included, in [from, to)', async () => {
      const s = await fresh()
      const big = 2n ** 62n + 12_345n
      await s.a.record([
        event({ amount: big }),
        event({ amount: big, units: 3 }),
        event({ route: 'POST /api/chat', amount: 7n, units: 250 }),
        event({ at: at + 1000, amount: 1n }),
        event({ keyId: 'key_b', amount: 5n }),
        event({ at: at - 1, amount: 9n }),
      ])
      expect(await s.b.statement('key_a', at, at + 1000)).toEqual({
        keyId: 'key_a',
        from: at,
        to: at + 1000,
        lines: [
          { route: 'GET /api/data', calls: 2, units: 4, amount: 2n * big },
          { route: 'POST /api/chat', calls: 1, units: 250, amount: 7n },
        ],
        total: { calls: 3, units: 254, amount: 2n * big + 7n },
      })
      expect((await s.b.statement('key_none', 0, at * 2)).total).toEqual({ calls: 0, units: 0, amount: 0n })
    })

    it('records once per requestId: a retried record counts nothing more', async () => {
      const s = await fresh()
      const once = event({ units: 2 })
      await s.a.record([once, once])
      await s.b.record([once])
      expect((await s.a.statement('key_a', 0, at * 2)).total).toEqual({ calls: 1, units: 2, amount: 1_000n })
      expect(await s.a.used('key_a', day)).toBe(2)
      expect(await s.b.used('key_a', month)).toBe(2)
    })

    it('records a large batch with events recorded before and one given twice: each counted once', async () => {
      const s = await fresh()
      const earlier = [event({ units: 2 }), event({ units: 3 })]
      await s.b.record(earlier)
      // Counters read first: what the record adds is then counted as it is written.
      expect(await s.a.used('key_a', day)).toBe(5)
      const fresh38 = Array.from({ length: 38 }, () => event())
      const twice = fresh38[5] as UsageEvent
      // More than one statement's worth; a repeat and an earlier event in the first, another earlier one in the last.
      await s.a.record([
        ...fresh38.slice(0, 5),
        earlier[0] as UsageEvent,
        twice,
        twice,
        ...fresh38.slice(6),
        earlier[1] as UsageEvent,
      ])
      expect((await s.b.statement('key_a', 0, at * 2)).total).toEqual({ calls: 40, units: 43, amount: 40_000n })
      expect(await s.a.used('key_a', day)).toBe(43)
      expect(await s.b.used('key_a', month)).toBe(43)
    })

    it('pages through the events of [from, to) oldest first, each once, every key or one key', async () => {
      const s = await fresh()
      // Recorded out of order, two at one instant (ordered by requestId), one on each edge.
      const recorded = [
        event({ requestId: 'req_c', at: at + 2, units: 3, amount: 2n ** 62n }),
        event({ requestId: 'req_b', at: at + 1, keyId: 'key_b', route: 'POST /api/chat', status: 201 }),
        event({ requestId: 'req_a', at: at + 1, amount: 0n }),
        event({ requestId: 'req_d', at: at + 3 }),
        event({ requestId: 'req_early', at: at - 1 }),
        event({ requestId: 'req_late', at: at + 10 }),
        event({ requestId: 'req_e', at, reserved: [{ period: month, units: 1 }] }),
      ]
      await s.a.reserve('key_a', month, 1, 10)
      await s.a.record(recorded)
      const { reserved: _, ...first } = recorded[6] as UsageEvent
      const page1 = await s.b.events({ from: at, to: at + 10, limit: 2 })
      expect(page1).toEqual([first, recorded[2]])
      const page2 = await s.b.events({ from: at, to: at + 10, limit: 2, after: page1.at(-1) })
      expect(page2).toEqual([recorded[1], recorded[0]])
      const page3 = await s.b.events({ from: at, to: at + 10, limit: 2, after: page2.at(-1) })
      expect(page3).toEqual([recorded[3]])
      expect(await s.b.events({ from: at, to: at + 10, limit: 2, after: page3.at(-1) })).toEqual([])
      expect((await s.a.events({ from: at, to: at + 10, keyId: 'key_b' })).map((e) => e.requestId)).toEqual(['req_b'])
      expect((await s.a.events({ from: 0, to: at * 2 })).map((e) => e.requestId)).toEqual([
        'req_early',
        'req_e',
        'req_a',
        'req_b',
        'req_c',
        'req_d',
        'req_late',
      ])
      await expect(s.a.events({ from: at, to: at })).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(s.a.events({ from: at, to: at + 1, limit: 1001 })).rejects.toThrow(/limit is 1001/)
    })

    it('counts used per UTC day and month, from events recorded before the counter was first read', async () => {
      const s = await fresh()
      await s.a.record([event({ units: 4 }), event({ at: at + 86_400_000, units: 5 })])
      expect(await s.b.used('key_a', day)).toBe(4)
      expect(await s.b.used('key_a', month)).toBe(9)
      await s.a.record([event({ units: 1 })])
      expect(await s.b.used('key_a', day)).toBe(5)
      expect(await s.a.used('key_a', 'm:2027-01')).toBe(0)
    })

    it('of 100 reserves at once, exactly `limit` succeed', async () => {
      const s = await fresh()
      const held = await Promise.all(Array.from({ length: 100 }, () => s.a.reserve('key_a', month, 1, 10)))
      expect(held.filter((h) => h.ok)).toHaveLength(10)
      expect(await s.a.used('key_a', month)).toBe(10)
    })

    it('weighs recorded units against the limit, and a refused reserve takes nothing', async () => {
      const s = await fresh()
      await s.b.record([event({ units: 8 })])
      expect(await s.a.reserve('key_a', day, 3, 10)).toEqual({ ok: false, used: 8 })
      expect(await s.a.reserve('key_a', day, 2, 10)).toEqual({ ok: true, used: 10 })
      expect(await s.a.reserve('key_a', day, 1, 10)).toEqual({ ok: false, used: 10 })
    })

    it('turns a served reservation into its event in one record, and release gives back the rest', async () => {
      const s = await fresh()
      expect(await s.a.reserve('key_a', month, 1, 2)).toEqual({ ok: true, used: 1 })
      expect(await s.a.reserve('key_a', month, 1, 2)).toEqual({ ok: true, used: 2 })
      await s.a.record([event({ reserved: [{ period: month, units: 1 }] })])
      expect(await s.a.used('key_a', month)).toBe(2)
      await s.a.release('key_a', month, 1)
      expect(await s.a.used('key_a', month)).toBe(1)
      expect((await s.a.reserve('key_a', month, 1, 2)).ok).toBe(true)
    })

    it.runIf(options.sharedReservations)(
      "of 100 reserves at once on both handles, exactly `limit` succeed, and each handle weighs the other's",
      async () => {
        const s = await fresh()
        const held = await atOnce(s, 100, (store) => store.reserve('key_a', month, 1, 10))
        expect(held.filter((h) => h.ok)).toHaveLength(10)
        expect(await s.a.used('key_a', month)).toBe(10)
        expect(await s.b.used('key_a', month)).toBe(10)
        // One handle's reservation counts on the other until it is given back or served there.
        expect(await s.a.reserve('key_b', month, 1, 2)).toEqual({ ok: true, used: 1 })
        expect(await s.b.reserve('key_b', month, 1, 2)).toEqual({ ok: true, used: 2 })
        expect(await s.b.reserve('key_b', month, 1, 2)).toEqual({ ok: false, used: 2 })
        await s.a.release('key_b', month, 1)
        expect(await s.b.used('key_b', month)).toBe(1)
        await s.b.record([event({ keyId: 'key_b', reserved: [{ period: month, units: 1 }] })])
        expect(await s.a.used('key_b', month)).toBe(1)
        expect(await s.a.reserve('key_b', month, 1, 2)).toEqual({ ok: true, used: 2 })
      },
    )

    it('decides reserveNow as reserve does, where the store has it: exactly `limit` of 100, one record releasing', async () => {
      const s = await fresh()
      const now = s.a.reserveNow?.bind(s.a)
      if (!now) return
      await s.a.record([event({ units: 3 })])
      const held = Array.from({ length: 100 }, () => now('key_a', month, 1, 10))
      expect(held.filter((h) => h.ok)).toHaveLength(7)
      expect(held.at(-1)).toEqual({ ok: false, used: 10 })
      await s.a.record([event({ reserved: [{ period: month, units: 1 }] })])
      expect(await s.a.used('key_a', month)).toBe(10)
      await s.a.release('key_a', month, 1)
      expect(now('key_a', month, 1, 10)).toEqual({ ok: true, used: 10 })
      expect(() => now('key_a', 'month', 1, 10)).toThrow(/is not a quota period/)
    })

    it('refuses a malformed period or event by name', async () => {
      const s = await fresh()
      await expect(s.a.used('key_a', '2026-12')).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(s.a.reserve('key_a', month, 0, 10)).rejects.toThrow('units must be a positive whole number, got 0')
      await expect(s.a.record([event({ units: -1 })])).rejects.toThrow('events[0].units must be a whole number ≥ 0')
    })
  })
}
