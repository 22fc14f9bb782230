import type { SchemaComponent } from '../postgres/migrate.js'

/**
 * The schema of the small coordination stores on PostgreSQL (component `coordination`):
 * in-flight locks (`createPostgresLocks`), spent sign-in proofs (`createPostgresSpentProofs`)
 * and fixed-window counters (`createPostgresCounters`), for a seller with PostgreSQL and no
 * Redis. Lock expiries run on the database's clock; a proof's expiry and a counter's window
 * are ms epochs, as the interfaces give and return them.
 */
export const coordinationSchema: SchemaComponent = {
  component: 'coordination',
  migrations: [
    {
      version: 1,
      name: 'locks, spent proofs, counters',
      sql: `
create table x402_locks (
  key text primary key,
  token text not null,
  expires_at timestamptz not null
);
create table x402_spent_proofs (
  key text primary key,
  expires_at bigint not null
);
create index x402_spent_proofs_expiry on x402_spent_proofs (expires_at);
create table x402_counters (
  key text primary key,
  used bigint not null,
  reset_at bigint not null,
  -- Whether the last take fitted: what the one upsert of a take returns.
  last_ok boolean not null
);
create index x402_counters_reset on x402_counters (reset_at);
`,
    },
  ],
}
