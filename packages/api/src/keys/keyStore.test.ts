import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
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
