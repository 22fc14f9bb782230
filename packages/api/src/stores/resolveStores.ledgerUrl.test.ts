// A PostgreSQL ledger named by `ledger` / `stores.ledger` alone (not `stores.databaseUrl` /
// X402_DATABASE_URL) is shared by every instance, so the locks, the spent sign-in proofs and
// the counters are shared there too: two instances never both accept one proof or lock.
import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { resolveStores } from '../stores/resolveStores.js'

const databaseUrl = await postgresUrlOrSkip()

describe.skipIf(!databaseUrl)('a ledger given as a PostgreSQL URL only', () => {
  it('shares spent proofs and locks across two instances', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const one = resolveStores({ ledger: `${schema.url}&application_name=402x-one` }, {})
    const two = resolveStores({ ledger: `${schema.url}&application_name=402x-two` }, {})
    try {
      expect(one.ledgerUrl).toBeDefined()
      const key = `0xabc:nonce-1`
      const until = Date.now() + 60_000
      const spent = [await one.spentProofs.spend(key, until), await two.spentProofs.spend(key, until)]
      const locked = [await one.locks.acquire('pay_1', 60_000), await two.locks.acquire('pay_1', 60_000)]
      expect({ spent, locked }).toEqual({ spent: [true, false], locked: [true, false] })
    } finally {
      for (const s of [one, two]) {
        await s.release()
        await s.ledger.close?.()
      }
      await schema.drop()
    }
  }, 30_000)
})
