import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { openPostgres } from '../postgres/openPostgres.js'
import { createPostgresLedger } from './createPostgresLedger.js'
import { newPayment } from './newPayment.fixture.js'

const databaseUrl = await postgresUrlOrSkip()

describe('createPostgresLedger', () => {
  it('answers store_unavailable (503, retryable) when PostgreSQL cannot be reached, naming where', async () => {
    const ledger = createPostgresLedger({ url: 'postgres://127.0.0.1:1/none' })
    try {
      await expect(ledger.insert(newPayment())).rejects.toMatchObject({
        code: 'store_unavailable',
        message: expect.stringContaining('PostgreSQL ledger store at 127.0.0.1:1/none'),
      })
    } finally {
      await ledger.close()
    }
  })

  it.skipIf(!databaseUrl)('keeps the rows in its own table, and leaves a pool it was given open', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const { sql, release } = openPostgres(schema.url, 'X402_DATABASE_URL')
    try {
      const ledger = createPostgresLedger({ sql })
      const p = newPayment({ amount: '115792089237316195423570985008687907853269984665640564039457584007913129639935' })
      expect(await ledger.insert(p)).toBe(true)
      await ledger.close()
      const [row] = await sql<{ amount: string; state: string }[]>`
        select amount::text as amount, state from x402_payments where id = ${p.id}`
      expect(row).toEqual({ amount: p.amount, state: 'verified' })
    } finally {
      await release()
      await schema.drop()
    }
  })
})
