import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { openPostgres } from '../postgres/openPostgres.js'
import { sleep } from '../stores/contract.fixture.js'
import { postgresBackend } from '../stores/postgresBackend.fixture.js'
import { createMemoryUsageStore } from './createMemoryUsageStore.js'
import { createPostgresUsageStore } from './createPostgresUsageStore.js'
import { createSqliteUsageStore } from './createSqliteUsageStore.js'
import { periodsOf } from './periods.js'
import { usageStoreContract } from './usageStore.contract.js'

const databaseUrl = await postgresUrlOrSkip()

usageStoreContract(
  'memory',
  () => {
    const store = createMemoryUsageStore()
    return { a: store, b: store, close: () => store.close() }
  },
  { sharedReservations: true },
)

// Two connections on one file: what two processes sharing it see.
usageStoreContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-usage-contract-'))
  const path = join(dir, 'ledger.db')
  const a = createSqliteUsageStore({ path })
  const b = createSqliteUsageStore({ path })
  return {
    a,
    b,
    async close() {
      await a.close()
      await b.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

// Two pools on one schema: what two instances sharing the database see.
if (databaseUrl)
  usageStoreContract('PostgreSQL', () => postgresBackend(databaseUrl, (url) => createPostgresUsageStore({ url })), {
    sharedReservations: true,
  })

describe.skipIf(!databaseUrl)('PostgreSQL usage store: reservation leases', () => {
  const { month } = periodsOf(Date.now())
  /** Stores on one fresh schema, each on its own pool (its own instance), all closed after. */
  const instances = async (
    run: (
      open: (options?: { leaseMs?: number; now?: () => number }) => ReturnType<typeof createPostgresUsageStore>,
    ) => Promise<void>,
  ) => {
    const schema = await freshSchema(databaseUrl as string)
    const opened: ReturnType<typeof createPostgresUsageStore>[] = []
    try {
      await run((options = {}) => {
        const store = createPostgresUsageStore({
          url: `${schema.url}&application_name=402x-lease-${opened.length}`,
          ...options,
        })
        opened.push(store)
        return store
      })
    } finally {
      for (const store of opened) await store.close()
      await schema.drop()
    }
  }

  it('stops counting reservations left unrenewed once their lease has lapsed (seen by a clock past it)', async () => {
    await instances(async (open) => {
      const killed = open({ leaseMs: 60_000 })
      expect(await killed.reserve('key_a', month, 5, 5)).toEqual({ ok: true, used: 5 })
      // Another instance now: the reservations count. A lease later (its clock ahead by more
      // than one lease): they count no more, and the quota is free again.
      const now = open()
      expect(await now.reserve('key_a', month, 1, 5)).toEqual({ ok: false, used: 5 })
      const later = open({ now: () => Date.now() + 120_000 })
      expect(await later.used('key_a', month)).toBe(0)
      expect(await later.reserve('key_a', month, 5, 5)).toEqual({ ok: true, used: 5 })
    })
  })

  it('keeps the reservations of a live instance past its lease, renewed', async () => {
    await instances(async (open) => {
      const live = open({ leaseMs: 1_500 })
      expect(await live.reserve('key_a', month, 3, 3)).toEqual({ ok: true, used: 3 })
      await sleep(3_500) // more than two leases: only renewals keep them
      const other = open()
      expect(await other.reserve('key_a', month, 1, 3)).toEqual({ ok: false, used: 3 })
      await live.release('key_a', month, 3)
      expect(await other.reserve('key_a', month, 1, 3)).toEqual({ ok: true, used: 1 })
    })
  })

  it('gives back what it still holds on close, and leaves a pool it was given open', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const { sql, release } = openPostgres(schema.url, 'X402_TEST_DATABASE_URL')
    try {
      const given = createPostgresUsageStore({ sql })
      expect(await given.reserve('key_a', month, 2, 2)).toEqual({ ok: true, used: 2 })
      await given.close()
      await expect(given.used('key_a', month)).rejects.toMatchObject({ code: 'store_unavailable' })
      const again = createPostgresUsageStore({ sql })
      expect(await again.reserve('key_a', month, 2, 2)).toEqual({ ok: true, used: 2 })
      await again.close()
    } finally {
      await release()
      await schema.drop()
    }
  })
})
