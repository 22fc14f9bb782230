import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FacilitatorLike } from '@402x/facilitator/client'
import { describe, expect, it } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import type { Backend } from '../stores/contract.fixture.js'
import { postgresBackend } from '../stores/postgresBackend.fixture.js'
import type { PaymentLedger } from '../stores/types.js'
import { reconcilePayments } from './reconcilePayments.js'

/**
 * A facilitator whose chain says every authorization expired unused, noting which payments it
 * was asked about (the chain itself is not what is tested here: the e2e suites use anvil).
 */
function expiredEverywhere() {
  const asked: string[] = []
  const facilitator = {
    async reconcile(request: { paymentPayload: unknown }) {
      asked.push((request.paymentPayload as { id: string }).id)
      await new Promise((resolve) => setTimeout(resolve, 2))
      return { state: 'failed' as const, reason: 'authorization_expired' }
    },
  } as unknown as FacilitatorLike
  return { facilitator, asked }
}

function twoInstances(name: string, open: () => Promise<Backend<PaymentLedger>>) {
  it(`${name}: two instances reconciling one ledger at once never take the same payment`, async () => {
    const s = await open()
    try {
      const payments = Array.from({ length: 10 }, () => newPayment())
      for (const p of payments) await s.a.insert({ ...p, payload: JSON.stringify({ id: p.id }) })
      const { facilitator, asked } = expiredEverywhere()
      const run = (ledger: PaymentLedger, owner: string) =>
        reconcilePayments({ ledger, facilitator, olderThanMs: -60_000, owner })
      const moved = await Promise.all([run(s.a, 'instance-a'), run(s.b, 'instance-b')])
      expect(moved[0] + moved[1]).toBe(payments.length)
      expect(asked.sort()).toEqual(payments.map((p) => p.id).sort())
      expect((await s.b.list()).map((r) => r.state)).toEqual(payments.map(() => 'failed'))
    } finally {
      await s.close()
    }
  })
}

const databaseUrl = await postgresUrlOrSkip()

describe('reconcilePayments with the recovery lease', () => {
  twoInstances('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), '402x-reconcile-'))
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
  describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
    twoInstances('PostgreSQL', () => postgresBackend(databaseUrl as string, (url) => createPostgresLedger({ url })))
  })
})
