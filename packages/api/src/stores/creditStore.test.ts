import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCreditLedger } from '../credits/createCreditLedger.js'
import { createMemoryCreditStore } from './createMemoryCreditStore.js'
import { creditStoreContract } from './creditStore.contract.js'

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
