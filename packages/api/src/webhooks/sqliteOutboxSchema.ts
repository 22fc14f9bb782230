import type { SqliteMigration } from '../stores/sqliteSchema.js'

/** The outbox's tables in the SQLite ledger's file (the ledger component's version 2). */
export const sqliteOutboxSchema = `
CREATE TABLE IF NOT EXISTS webhook_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  body TEXT NOT NULL,
  dispatched INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_events_new ON webhook_events (seq) WHERE dispatched = 0;
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  last_attempt_at INTEGER,
  created_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  UNIQUE (event_id, webhook_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries (webhook_id, last_attempt_at);
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`

/**
 * The ledger component's version 3: the webhooks table holds every paywall's code and config
 * webhooks too (`source`, and `seen_at`: when a paywall that has one last said so), never
 * their secrets, so that each paywall on the file fans events out to all of them.
 */
export const sqliteWebhookOrigins: SqliteMigration = {
  version: 3,
  name: 'webhook origins',
  apply: (db) => {
    const columns = (db.prepare('PRAGMA table_info(webhooks)').all() as { name: string }[]).map((c) => c.name)
    if (!columns.includes('source')) db.exec("ALTER TABLE webhooks ADD COLUMN source TEXT NOT NULL DEFAULT 'admin'")
    if (!columns.includes('seen_at')) db.exec('ALTER TABLE webhooks ADD COLUMN seen_at INTEGER')
  },
}
