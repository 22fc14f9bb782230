import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryUsageStore } from './createMemoryUsageStore.js'
import { createSqliteUsageStore } from './createSqliteUsageStore.js'
import { usageStoreContract } from './usageStore.contract.js'

usageStoreContract('memory', () => {
  const store = createMemoryUsageStore()
  return { a: store, b: store, close: () => store.close() }
})

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
