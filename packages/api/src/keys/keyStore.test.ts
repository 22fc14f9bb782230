import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { describe, expect, it, vi } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { postgresBackend } from '../stores/postgresBackend.fixture.js'
import { createMemoryKeyStore } from './createMemoryKeyStore.js'
import { createPostgresKeyStore } from './createPostgresKeyStore.js'
import { createSqliteKeyStore } from './createSqliteKeyStore.js'
import { keyStoreContract } from './keyStore.contract.js'

const databaseUrl = await postgresUrlOrSkip()

keyStoreContract('memory', () => {
  const store = createMemoryKeyStore()
  return { a: store, b: store, close: () => store.close() }
})

// Two connections on one file: what two processes sharing it see.
keyStoreContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-keys-contract-'))
  const path = join(dir, 'ledger.db')
  const a = createSqliteKeyStore({ path })
  const b = createSqliteKeyStore({ path })
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
  keyStoreContract('PostgreSQL', () => postgresBackend(databaseUrl, (url) => createPostgresKeyStore({ url })), {
    otherHandleSees: 'when notified',
  })

describe.skipIf(!databaseUrl)('PostgreSQL key store: notifications', () => {
  const base = databaseUrl as string
  const named = (url: string, name: string) => `${url}&application_name=${name}`

  it('moves version() on the writes of its own schema only, not on another schema of the database', async () => {
    const mine = await freshSchema(base)
    const theirs = await freshSchema(base)
    const watched = createPostgresKeyStore({ url: named(mine.url, '402x-watched') })
    const writer = createPostgresKeyStore({ url: named(mine.url, '402x-writer') })
    const stranger = createPostgresKeyStore({ url: named(theirs.url, '402x-stranger') })
    try {
      await watched.list()
      const before = watched.version()
      // Notifications reach a listener in commit order: once the second has, the first had.
      await stranger.create({ name: 'theirs', plan: 'free', mode: 'test' })
      await writer.create({ name: 'mine', plan: 'free', mode: 'test' })
      await vi.waitFor(() => expect(watched.version()).not.toBe(before), { timeout: 5_000, interval: 10 })
      expect(watched.version()).toBe(before + 1)
    } finally {
      for (const store of [watched, writer, stranger]) await store.close()
      await mine.drop()
      await theirs.drop()
    }
  })

  it('moves version() once it listens again after losing its connection: what it missed is unknown', async () => {
    const schema = await freshSchema(base)
    const name = `402x-relisten-${randomBytes(4).toString('hex')}`
    const store = createPostgresKeyStore({ url: named(schema.url, name) })
    const admin = postgres(base, { max: 1, onnotice: () => {} })
    try {
      await store.list()
      const before = store.version()
      const killed = await admin`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${name} and query ilike 'listen%'`
      expect(killed).toHaveLength(1)
      await vi.waitFor(() => expect(store.version()).not.toBe(before), { timeout: 5_000, interval: 10 })
      // And it hears the writes of others again.
      const listening = store.version()
      const writer = createPostgresKeyStore({ url: named(schema.url, `${name}-writer`) })
      await writer.putPlan({
        name: 'p',
        routes: 'all',
        rateLimits: [],
        quota: {},
        overage: 'block',
        billing: 'included',
      })
      await writer.close()
      await vi.waitFor(() => expect(store.version()).not.toBe(listening), { timeout: 5_000, interval: 10 })
    } finally {
      await store.close()
      await admin.end({ timeout: 1 })
      await schema.drop()
    }
  })
})
