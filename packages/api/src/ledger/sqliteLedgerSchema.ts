import { type SqliteSchemaComponent, sqlMigration } from '../stores/sqliteSchema.js'
import { sqliteOutboxSchema, sqliteWebhookOrigins } from '../webhooks/sqliteOutboxSchema.js'
import type { SqliteDb } from './openSqlite.js'
import type { PaymentState } from './types.js'

// The SQLite ledger's schema and its migration from earlier releases (createSqliteLedger).

/** The payments table and its indexes, created when missing. */
export const sqliteLedgerSchema = `
CREATE TABLE IF NOT EXISTS payments (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  network TEXT NOT NULL,
  asset TEXT NOT NULL,
  pay_to TEXT NOT NULL,
  payer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  amount TEXT NOT NULL,
  valid_before INTEGER NOT NULL,
  method TEXT NOT NULL,
  resource TEXT NOT NULL,
  tx_hash TEXT,
  reason TEXT,
  message TEXT,
  payload TEXT NOT NULL,
  requirements TEXT NOT NULL,
  undelivered INTEGER NOT NULL DEFAULT 0,
  -- 1 while the payment is live (verified, settling, settled, pending, reconciled), NULL
  -- once it failed or was released: the replay guard's index is on this column rather than
  -- on \`state\`, so that the usual moves (verified → settled) leave that index alone.
  live INTEGER,
  -- The recovery lease (claimStale): which reconciler works on this stale payment, and
  -- until when (ms epoch).
  lease_owner TEXT,
  lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS payments_payer ON payments (payer, created_at);
-- Only the payments still in flight, for the reconciler: a settled payment leaves it, so
-- the index stays a few pages that every write finds in cache.
CREATE INDEX IF NOT EXISTS payments_unfinished ON payments (state, updated_at)
  WHERE state IN ('verified', 'settling', 'pending');
-- Earlier releases indexed every row by state and by creation time: each write then
-- touched two more pages. The newest-first listing reads the rowid (the insertion order).
DROP INDEX IF EXISTS payments_state;
DROP INDEX IF EXISTS payments_created;
`

/** The states in which a payment holds its authorization: the replay guard's. */
export const liveStates = new Set<PaymentState>(['verified', 'settling', 'settled', 'pending', 'reconciled'])

/**
 * Brings a ledger written by an earlier release up to this schema (inside the migration's
 * transaction): the `undelivered` column, the replay guard moved from an index on `state`
 * to one on `live`, and the recovery lease's columns. Every process sharing one ledger
 * file must run the same release: an earlier one does not keep `live` up to date.
 */
function upgradePayments(db: SqliteDb): void {
  const columns = () => (db.prepare('PRAGMA table_info(payments)').all() as { name: string }[]).map((c) => c.name)
  if (!columns().includes('undelivered'))
    db.exec('ALTER TABLE payments ADD COLUMN undelivered INTEGER NOT NULL DEFAULT 0')
  if (!columns().includes('live')) {
    db.exec('ALTER TABLE payments ADD COLUMN live INTEGER')
    db.exec(`UPDATE payments SET live = 1 WHERE state IN (${[...liveStates].map((s) => `'${s}'`).join(', ')})`)
  }
  if (!columns().includes('lease_owner')) db.exec('ALTER TABLE payments ADD COLUMN lease_owner TEXT')
  if (!columns().includes('lease_until')) db.exec('ALTER TABLE payments ADD COLUMN lease_until INTEGER')
  db.exec('CREATE UNIQUE INDEX IF NOT EXISTS payments_live ON payments (network, asset, payer, nonce) WHERE live = 1')
  db.exec('DROP INDEX IF EXISTS payments_live_authorization')
}

/**
 * The SQLite ledger's schema (component `ledger`, as on PostgreSQL): version 1 the payments
 * (a file of a release before versions were recorded is upgraded in place), version 2 the
 * webhook outbox, version 3 the origin of each webhook in its table.
 */
export const sqliteLedgerComponent: SqliteSchemaComponent = {
  component: 'ledger',
  migrations: [
    {
      version: 1,
      name: 'payments',
      apply: (db) => {
        db.exec(sqliteLedgerSchema)
        upgradePayments(db)
      },
    },
    sqlMigration(2, 'webhook outbox', sqliteOutboxSchema),
    sqliteWebhookOrigins,
  ],
}
