import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { openSqlite } from '../ledger/openSqlite.js'
import { sqliteLedgerComponent } from '../ledger/sqliteLedgerSchema.js'
import { createMemoryPaymentLedger } from '../stores/createMemoryPaymentLedger.js'
import { postgresBackend } from '../stores/postgresBackend.fixture.js'
import { applySqliteSchema } from '../stores/sqliteSchema.js'
import { sharedWebhooksContract } from './sharedWebhooks.contract.js'
import { generateWebhookSecret } from './signWebhook.js'

sharedWebhooksContract('memory', () => {
  const ledger = createMemoryPaymentLedger()
  return { a: ledger, b: ledger, close: () => ledger.close() }
})

// Two connections on one file: what two processes sharing it see.
sharedWebhooksContract('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-shared-webhooks-'))
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

describe('the webhooks table of a SQLite file of the previous release', () => {
  it('keeps its admin webhooks, with their secrets, as admin ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), '402x-shared-webhooks-'))
    const path = join(dir, 'ledger.db')
    try {
      const db = openSqlite(path)
      const previous = { ...sqliteLedgerComponent, migrations: sqliteLedgerComponent.migrations.slice(0, 2) }
      applySqliteSchema(db, previous)
      const secret = generateWebhookSecret()
      db.prepare('INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)').run(
        'wh_old',
        'https://crm.example.com/hooks',
        '["*"]',
        secret,
        1,
      )
      db.close()
      const ledger = createSqliteLedger({ path })
      expect(await ledger.outbox?.saved()).toEqual([
        { id: 'wh_old', url: 'https://crm.example.com/hooks', events: ['*'], secret, createdAt: 1, source: 'admin' },
      ])
      await ledger.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// Two pools on one fresh schema: what two instances sharing the database see.
const databaseUrl = await postgresUrlOrSkip()
describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
  sharedWebhooksContract('PostgreSQL', () =>
    postgresBackend(databaseUrl as string, (url) => createPostgresLedger({ url })),
  )
})
