import type { SchemaComponent } from '../postgres/migrate.js'
import { postgresOutboxSql, postgresWebhookOriginsSql } from '../webhooks/postgresOutboxSchema.js'

/**
 * The PostgreSQL payments ledger's schema (component `ledger`). Times are ms epochs written
 * by the instance (as SQLite's), amounts `numeric(78,0)` (any uint256, exact); `seq` is the
 * insertion order that `list` reads newest first. The replay guard is a partial unique index
 * on the live states; the reconciler's index covers only the payments still in flight. The
 * recovery lease (`lease_owner`, `lease_until`, on the database's clock) says which instance
 * reconciles a stale payment now: see `claimStale`. Version 2 adds the webhook outbox
 * (`webhooks/postgresOutboxSchema.ts`), written in the same transactions as the payments;
 * version 3 the origin of each webhook in its table.
 */
export const ledgerSchema: SchemaComponent = {
  component: 'ledger',
  migrations: [
    {
      version: 1,
      name: 'payments',
      sql: `
create table x402_payments (
  seq bigint generated always as identity,
  id text primary key,
  state text not null,
  created_at bigint not null,
  updated_at bigint not null,
  network text not null,
  asset text not null,
  pay_to text not null,
  payer text not null,
  nonce text not null,
  amount numeric(78, 0) not null,
  valid_before bigint not null,
  method text not null,
  resource text not null,
  tx_hash text,
  reason text,
  message text,
  payload text not null,
  requirements text not null,
  undelivered boolean not null default false,
  lease_owner text,
  lease_until timestamptz
);
create unique index x402_payments_live on x402_payments (network, asset, payer, nonce)
  where state in ('verified', 'settling', 'settled', 'pending', 'reconciled');
create index x402_payments_payer on x402_payments (payer, created_at);
create index x402_payments_unfinished on x402_payments (state, updated_at)
  where state in ('verified', 'settling', 'pending');
create index x402_payments_seq on x402_payments (seq);
`,
    },
    { version: 2, name: 'webhook_outbox', sql: postgresOutboxSql },
    { version: 3, name: 'webhook_origins', sql: postgresWebhookOriginsSql },
  ],
}
