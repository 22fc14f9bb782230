import { type SqliteSchemaComponent, sqlMigration } from '../stores/sqliteSchema.js'

/**
 * The credit ledger's tables. Amounts are INTEGER atomic units, bound as decimal text and
 * `CAST` in SQL and read back `CAST(… AS TEXT)`, so that no value ever passes through a
 * JavaScript number or a float. `typeof(…) = 'integer'` checks refuse the REAL that SQLite
 * would produce on an integer overflow.
 *
 * - `credit_transactions`: one row per operation; `(kind, ref)` is unique, which makes
 *   top-ups, grants and refunds idempotent and each reservation settle once.
 * - `credit_entries`: the postings, append-only (triggers refuse UPDATE and DELETE); the
 *   entries of a transaction sum to zero.
 * - `credit_balances`: the cached sum of each account's entries, updated in the same SQLite
 *   transaction; caller and hold balances can never go below zero.
 * - `credit_reservations`: holds, `held → captured | released | expired`.
 * - `credit_tokens`: sha256 of bearer tokens, never the tokens.
 * - `credit_tabs`: charges at prices known up front, written before each answer (one small
 *   row per caller, one page per write) and posted as `charge` transactions later, in bulk;
 *   a caller's available credit is its balance less its tab.
 */
export const creditSchema = `
CREATE TABLE IF NOT EXISTS credit_transactions (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  account TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'),
  note TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (kind, ref)
);
CREATE TABLE IF NOT EXISTS credit_entries (
  id INTEGER PRIMARY KEY,
  transaction_id INTEGER NOT NULL REFERENCES credit_transactions (id),
  account TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount <> 0),
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_entries_account ON credit_entries (account, id);
CREATE INDEX IF NOT EXISTS credit_entries_transaction ON credit_entries (transaction_id);
CREATE TRIGGER IF NOT EXISTS credit_entries_no_update BEFORE UPDATE ON credit_entries
  BEGIN SELECT RAISE(ABORT, 'credit_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS credit_entries_no_delete BEFORE DELETE ON credit_entries
  BEGIN SELECT RAISE(ABORT, 'credit_entries is append-only'); END;
CREATE TABLE IF NOT EXISTS credit_balances (
  account TEXT PRIMARY KEY,
  balance INTEGER NOT NULL CHECK (
    typeof(balance) = 'integer' AND (balance >= 0 OR substr(account, 1, 7) = 'system:')
  )
);
CREATE TABLE IF NOT EXISTS credit_reservations (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
  ref TEXT UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('held', 'captured', 'released', 'expired')),
  captured INTEGER,
  reason TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  settled_at INTEGER
);
CREATE INDEX IF NOT EXISTS credit_reservations_expiry ON credit_reservations (state, expires_at);
CREATE TABLE IF NOT EXISTS credit_tokens (
  hash TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_tabs (
  account TEXT PRIMARY KEY,
  used INTEGER NOT NULL CHECK (typeof(used) = 'integer' AND used >= 0),
  charges INTEGER NOT NULL
) WITHOUT ROWID;
`

/** The credit ledger's schema on SQLite (component `credits`, as on PostgreSQL). */
export const sqliteCreditComponent: SqliteSchemaComponent = {
  component: 'credits',
  migrations: [
    sqlMigration(1, 'double-entry credit ledger', creditSchema),
    // The export's pages of the revenue (CreditStore.revenue): only its entries are indexed.
    sqlMigration(
      2,
      'revenue entries by time',
      "CREATE INDEX IF NOT EXISTS credit_entries_revenue ON credit_entries (created_at, id) WHERE account = 'system:revenue';",
    ),
  ],
}
