import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { createMemoryPaymentLedger } from './createMemoryPaymentLedger.js'
import { paymentLedgerContract } from './paymentLedger.contract.js'

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
