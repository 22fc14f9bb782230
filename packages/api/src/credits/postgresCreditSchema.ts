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
 * There is no tab table: `tab` posts its charges at once (`postTabs` has nothing to post), in
 * one round trip (the function `x402_credit_tab`, version 2).
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
    {
      version: 2,
      name: 'tab in one round trip',
      // The hot path's group commit (`tab`) as one statement: lock the callers' rows in
      // account order, charge item by item as far as each balance goes, post one `charge`
      // transaction per caller (its entries sum to zero), notify the other store objects.
      sql: `
create function x402_credit_tab(p_accounts text[], p_amounts numeric[], p_now bigint, p_channel text, p_self text)
returns boolean[] language plpgsql as $$
declare
  results boolean[] := array[]::boolean[];
  charged text[] := array[]::text[];
  sums numeric[] := array[]::numeric[];
  counts integer[] := array[]::integer[];
  available numeric;
  k integer;
  tid bigint;
begin
  perform 1 from x402_credit_balances
    where account in (select 'caller:' || a from unnest(p_accounts) a)
    order by account for update;
  for i in 1 .. coalesce(array_length(p_accounts, 1), 0) loop
    select balance into available from x402_credit_balances where account = 'caller:' || p_accounts[i];
    if coalesce(available, 0) >= p_amounts[i] then
      update x402_credit_balances set balance = balance - p_amounts[i] where account = 'caller:' || p_accounts[i];
      k := array_position(charged, p_accounts[i]);
      if k is null then
        charged := charged || p_accounts[i];
        sums := sums || p_amounts[i];
        counts := counts || 1;
      else
        sums[k] := sums[k] + p_amounts[i];
        counts[k] := counts[k] + 1;
      end if;
      results := results || true;
    else
      results := results || false;
    end if;
  end loop;
  for j in 1 .. coalesce(array_length(charged, 1), 0) loop
    insert into x402_credit_transactions (kind, ref, account, amount, note, created_at)
      values ('charge', 'tab_' || gen_random_uuid(), charged[j], sums[j],
        counts[j] || case when counts[j] = 1 then ' charge' else ' charges' end, p_now)
      returning id into tid;
    insert into x402_credit_entries (transaction_id, account, amount, created_at)
      values (tid, 'caller:' || charged[j], -sums[j], p_now), (tid, 'system:revenue', sums[j], p_now);
  end loop;
  if array_length(charged, 1) > 0 then
    perform pg_notify(p_channel, p_self || '||' ||
      case when length(array_to_string(charged, ',')) > 6000
        or exists (select 1 from unnest(charged) a where a ~ '[,|]') then '*'
        else array_to_string(charged, ',') end);
  end if;
  return results;
end
$$;
`,
    },
    {
      version: 3,
      name: 'revenue entries by time',
      // The export's pages of the revenue (CreditStore.revenue): only its entries are indexed.
      sql: `create index x402_credit_entries_revenue on x402_credit_entries (created_at, id) where account = 'system:revenue';`,
    },
  ],
}
