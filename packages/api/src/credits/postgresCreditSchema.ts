import type { SchemaComponent } from '../postgres/migrate.js'

/**
 * The PostgreSQL credit store's tables (component `credits`), the SQLite ledger's
 * (`schema.ts`) in PostgreSQL's types. Money is `numeric(78, 0)`, bound and read as decimal
 * strings, never a JavaScript number; times are ms epochs (`bigint`).
 *
 * - `x402_credit_transactions`: one row per operation; `(kind, ref)` is unique, which makes
 *   top-ups, grants, refunds and payouts idempotent and each reservation settle once.
 * - `x402_credit_entries`: the postings, append-only (a trigger refuses UPDATE and DELETE);
 *   the entries of a transaction sum to zero.
 * - `x402_credit_balances`: the sum of each caller and hold account's entries, updated in the
 *   same transaction, never below zero. System accounts (`system:…`) have no row: their
 *   balance is the sum of their entries. A row every charge of every instance updated
 *   (`system:revenue`) would queue all of them behind one lock.
 * - `x402_credit_reservations`: holds, `held → captured | released | expired`.
 * - `x402_credit_tokens`: sha256 of bearer tokens, never the tokens.
 *
 * There is no tab table: `tab` posts its charges at once (`postTabs` has nothing to post).
 */
export const creditSchema: SchemaComponent = {
  component: 'credits',
  migrations: [
    {
      version: 1,
      name: 'credit ledger',
      sql: `
create table x402_credit_transactions (
  id bigserial primary key,
  kind text not null,
  ref text not null,
  account text not null,
  amount numeric(78, 0) not null,
  note text,
  created_at bigint not null,
  unique (kind, ref)
);
create table x402_credit_entries (
  id bigserial primary key,
  transaction_id bigint not null references x402_credit_transactions (id),
  account text not null,
  amount numeric(78, 0) not null check (amount <> 0),
  created_at bigint not null
);
create index x402_credit_entries_account on x402_credit_entries (account, id);
create index x402_credit_entries_transaction on x402_credit_entries (transaction_id);
create function x402_credit_entries_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'x402_credit_entries is append-only';
end
$$;
create trigger x402_credit_entries_no_change before update or delete or truncate on x402_credit_entries
  for each statement execute function x402_credit_entries_append_only();
create table x402_credit_balances (
  account text primary key check (account like 'caller:%' or account like 'hold:%'),
  balance numeric(78, 0) not null check (balance >= 0)
);
create table x402_credit_reservations (
  id text primary key,
  account text not null,
  amount numeric(78, 0) not null check (amount > 0),
  ref text unique,
  state text not null check (state in ('held', 'captured', 'released', 'expired')),
  captured numeric(78, 0),
  reason text,
  created_at bigint not null,
  expires_at bigint not null,
  settled_at bigint
);
create index x402_credit_reservations_expiry on x402_credit_reservations (expires_at) where state = 'held';
create table x402_credit_tokens (
  hash text primary key,
  account text not null,
  created_at bigint not null
);
`,
    },
  ],
}
