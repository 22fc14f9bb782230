import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { createMemoryPaymentLedger } from './createMemoryPaymentLedger.js'
import { paymentLedgerContract } from './paymentLedger.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'

paymentLedgerContract('memory', () => {
  const ledger = createMemoryPaymentLedger()
  return { a: ledger, b: ledger, close: () => ledger.close() }
})

// Two connections on one file: what two processes sharing it see.
paymentLedgerContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-ledger-contract-'))
  const path = join(dir, 'ledger.db')
  const a = createSqliteLedger({ path })
  const b = createSqliteLedger({ path })
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

// Two pools on one fresh schema: what two instances sharing the database see.
const databaseUrl = await postgresUrlOrSkip()
describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
  paymentLedgerContract('PostgreSQL', () =>
    postgresBackend(databaseUrl as string, (url) => createPostgresLedger({ url })),
  )
})
