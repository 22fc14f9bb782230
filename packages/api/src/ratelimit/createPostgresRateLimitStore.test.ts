import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { openPostgres } from '../postgres/openPostgres.js'
import { sleep } from '../stores/contract.fixture.js'
import { postgresBackend } from '../stores/postgresBackend.fixture.js'
import { createPostgresRateLimitStore } from './createPostgresRateLimitStore.js'
import { rateLimitStoreContract } from './rateLimitStore.contract.js'

const databaseUrl = await postgresUrlOrSkip()

describe.skipIf(!databaseUrl)('createPostgresRateLimitStore', () => {
  let admin: postgres.Sql
  beforeAll(() => {
    admin = postgres(databaseUrl as string, { max: 1, onnotice: () => {} })
  })
  afterAll(() => admin.end({ timeout: 1 }))
  // The store decides on the database's clock: the contract reads and waits on it.
  const databaseClock = {
    async now() {
      const [row] = await admin`select floor(extract(epoch from clock_timestamp()) * 1000)::float8 as now`
      return row?.now as number
    },
    async wait(ms: number) {
      await sleep(ms)
    },
    slackMs: 25,
  }

  rateLimitStoreContract(
    'PostgreSQL (two pools)',
    () => postgresBackend(databaseUrl as string, (url) => createPostgresRateLimitStore({ url })),
    databaseClock,
  )

  it('keeps one row per key and policy shape, and prunes the spent ones', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const opened = openPostgres(schema.url, 'test')
    const store = createPostgresRateLimitStore({ sql: opened.sql })
    try {
      await store.consume('0xabc', 1, { algorithm: 'sliding-window', limit: 5, windowMs: 60_000 })
      await store.consume('0xabc', 1, { algorithm: 'fixed-window', limit: 5, windowMs: 60_000 })
      await store.consume('0xabc', 1, { algorithm: 'fixed-window', limit: 5, windowMs: 40 })
      await store.consume('0xabc', 1, { algorithm: 'token-bucket', capacity: 5, refillPerSecond: 100 })
      const rows = async () =>
        (await opened.sql`select key, policy from x402_rate_limits order by policy`).map((r) => `${r.key} ${r.policy}`)
      expect(await rows()).toEqual(['0xabc fw:40', '0xabc fw:60000', '0xabc sw:60000', '0xabc tb'])
      await sleep(100) // the 40 ms window has ended, the bucket is full again
      expect(await store.prune()).toBe(2)
      expect(await rows()).toEqual(['0xabc fw:60000', '0xabc sw:60000'])
      await store.close()
      expect((await opened.sql`select 1 as one`)[0]?.one).toBe(1) // a given pool is left open
    } finally {
      await opened.release()
      await schema.drop()
    }
  })

  it('rejects with store_unavailable when the database cannot answer', async () => {
    const store = createPostgresRateLimitStore({ url: 'postgres://127.0.0.1:1/none' })
    try {
      await expect(
        store.consume('k', 1, { algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }),
      ).rejects.toMatchObject({ code: 'store_unavailable', status: 503, details: { store: 'rate-limit' } })
    } finally {
      await store.close()
    }
  })
})
