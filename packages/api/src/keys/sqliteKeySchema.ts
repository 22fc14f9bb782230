import { type SqliteSchemaComponent, sqlMigration } from '../stores/sqliteSchema.js'

// The SQLite schemas of the key and usage stores (components `keys` and `usage`, as on PostgreSQL).

/**
 * `api_keys`: one row per key, its sha256 (never the key), `id` and `hash` unique.
 * `api_plans`: plans put at run time, as their JSON, by name.
 */
const keysSql = `
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  owner TEXT,
  plan TEXT NOT NULL,
  metadata TEXT NOT NULL,
  start TEXT NOT NULL,
  account TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_plan ON api_keys (plan);
CREATE TABLE IF NOT EXISTS api_plans (
  name TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`

/**
 * `api_usage`: one row per served call, `request_id` unique (a second record is ignored).
 * Amounts are decimal TEXT, summed exactly in two parts (below and above 10^12, as the
 * ledger's `payerStats`), so that no sum overflows 64 bits or passes through a float.
 */
const usageSql = `
CREATE TABLE IF NOT EXISTS api_usage (
  request_id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  route TEXT NOT NULL,
  units INTEGER NOT NULL,
  amount TEXT NOT NULL,
  asset TEXT NOT NULL,
  status INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_usage_key_at ON api_usage (key_id, at);
`

/** The key store's schema on SQLite (`createSqliteKeyStore`). */
export const sqliteKeyComponent: SqliteSchemaComponent = {
  component: 'keys',
  migrations: [sqlMigration(1, 'api keys and plans', keysSql)],
}

/** The usage store's schema on SQLite (`createSqliteUsageStore`). */
export const sqliteUsageComponent: SqliteSchemaComponent = {
  component: 'usage',
  migrations: [
    sqlMigration(1, 'usage events', usageSql),
    // The export's pages of a period, every key's, oldest first (UsageStore.events).
    sqlMigration(2, 'usage events by time', 'CREATE INDEX IF NOT EXISTS api_usage_at ON api_usage (at, request_id);'),
  ],
}
