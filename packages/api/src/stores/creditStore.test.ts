import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createCreditLedger } from '../credits/createCreditLedger.js'
import { createPostgresCreditStore } from '../credits/createPostgresCreditStore.js'
import { createMemoryCreditStore } from './createMemoryCreditStore.js'
import { creditStoreContract } from './creditStore.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'

const databaseUrl = await postgresUrlOrSkip()

creditStoreContract(
  'memory',
  () => {
    const store = createMemoryCreditStore()
    return { a: store, b: store, close: () => store.close() }
  },
  { signals: false },
)

// Two connections on one file: what two processes sharing it see.
creditStoreContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credit-contract-'))
  const path = join(dir, 'credits.db')
  const a = createCreditLedger({ path })
  const b = createCreditLedger({ path })
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
  creditStoreContract('PostgreSQL', () => postgresBackend(databaseUrl, (url) => createPostgresCreditStore({ url })), {
    signals: 'notified',
  })
