import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { createMemoryPaymentLedger } from './createMemoryPaymentLedger.js'
import { paymentQueryContract } from './paymentQuery.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'

paymentQueryContract('memory', () => {
  const ledger = createMemoryPaymentLedger()
  return { a: ledger, b: ledger, close: () => ledger.close() }
})

paymentQueryContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-query-'))
  const a = createSqliteLedger({ path: join(dir, 'ledger.db') })
  const b = createSqliteLedger({ path: join(dir, 'ledger.db') })
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
  paymentQueryContract('PostgreSQL', () =>
    postgresBackend(databaseUrl as string, (url) => createPostgresLedger({ url })),
  )
})
