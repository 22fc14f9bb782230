// Nothing waits for ever on PostgreSQL (openPostgres: query, lock and statement timeouts):
// a table locked by someone else (a newer release's migration, a VACUUM FULL, an operator's
// stuck transaction) answers store_unavailable (503) within 10 s, never holds a request.
import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'

const databaseUrl = await postgresUrlOrSkip()

describe.skipIf(!databaseUrl)('a PostgreSQL call that cannot be answered', () => {
  it('rejects with store_unavailable within 10 s when its table is locked, rather than hanging', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const ledger = createPostgresLedger({ url: schema.url })
    const admin = postgres(schema.url, { max: 1, onnotice: () => {} })
    let unlock: () => void = () => {}
    const held = new Promise<void>((r) => (unlock = r))
    try {
      expect(await ledger.get('pay_none')).toBeUndefined() // schema in place
      let locked!: () => void
      const isLocked = new Promise<void>((r) => (locked = r))
      const tx = admin.begin(async (t) => {
        await t`lock table x402_payments in access exclusive mode`
        locked()
        await held
      })
      await isLocked
      const outcome = await Promise.race([
        ledger.get('pay_none').then(
          () => 'answered',
          (e: { code?: string }) => e.code ?? 'rejected',
        ),
        new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000)),
      ])
      unlock()
      await tx
      expect(outcome).toBe('store_unavailable')
    } finally {
      unlock()
      await ledger.close()
      await admin.end({ timeout: 1 })
      await schema.drop()
    }
  }, 30_000)
})
