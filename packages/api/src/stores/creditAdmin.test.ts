import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createCreditLedger } from '../credits/createCreditLedger.js'
import { createPostgresCreditStore } from '../credits/createPostgresCreditStore.js'
import { createMemoryCreditStore } from './createMemoryCreditStore.js'
import { creditAdminContract } from './creditAdmin.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'

creditAdminContract('memory', () => {
  const store = createMemoryCreditStore()
  return { a: store, b: store, close: () => store.close() }
})

creditAdminContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credit-admin-'))
  const a = createCreditLedger({ path: join(dir, 'credits.db') })
  const b = createCreditLedger({ path: join(dir, 'credits.db') })
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

const databaseUrl = await postgresUrlOrSkip()
describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
  creditAdminContract('PostgreSQL', () =>
    postgresBackend(databaseUrl as string, (url) => createPostgresCreditStore({ url })),
  )
})
