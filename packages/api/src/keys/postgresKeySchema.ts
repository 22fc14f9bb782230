import type { SchemaComponent } from '../postgres/migrate.js'

/**
 * API keys and run-time plans on PostgreSQL (`createPostgresKeyStore`).
 * `x402_api_keys`: one row per key, its sha256 (never the key), `id` and `hash` unique; `seq`
 * orders keys created in the same millisecond. `x402_api_plans`: plans put at run time, by name.
 */
export const keySchema: SchemaComponent = {
  component: 'keys',
  migrations: [
    {
      version: 1,
      name: 'api keys and plans',
      sql: `
        create table x402_api_keys (
          id text primary key,
          hash text not null unique,
          name text not null,
          owner text,
          plan text not null,
          metadata jsonb not null,
          start text not null,
          account text not null,
          created_at bigint not null,
          expires_at bigint,
          revoked_at bigint,
          seq bigint generated always as identity
        );
        create index x402_api_keys_plan on x402_api_keys (plan);
        create index x402_api_keys_created on x402_api_keys (created_at, seq);
        create table x402_api_plans (
          name text primary key,
          definition jsonb not null,
          updated_at bigint not null
        );`,
    },
  ],
}

/**
 * Usage events and the quota counters every instance shares (`createPostgresUsageStore`).
 * - `x402_usage`: one row per served call, `request_id` unique; amounts `numeric(78,0)`, so
 *   that a sum is exact whatever its size.
 * - `x402_usage_counters`: per (key, period), the units recorded (`used`, kept in the
 *   transaction that inserts the events) and reserved (`reserved`: the sum of its holds). A
 *   reserve is one conditional update of this row, `used + reserved + units <= limit`.
 * - `x402_usage_holds`: per (key, period, holder), the units a store object has reserved
 *   and not yet recorded or released, alive until `expires_at` (ms epoch): its holder renews
 *   that lease while it holds anything. A lapsed hold (a killed instance's) counts no more,
 *   and is given back to its counter by the next reserve it stands in the way of, or by any
 *   instance's renewal round.
 */
export const usageSchema: SchemaComponent = {
  component: 'usage',
  migrations: [
    {
      version: 1,
      name: 'usage events and shared quota counters',
      sql: `
        create table x402_usage (
          request_id text primary key,
          key_id text not null,
          route text not null,
          units bigint not null,
          amount numeric(78,0) not null,
          asset text not null,
          status integer not null,
          at bigint not null
        );
        create index x402_usage_key_at on x402_usage (key_id, at);
        create table x402_usage_counters (
          key_id text not null,
          period text not null,
          used bigint not null default 0,
          reserved bigint not null default 0,
          primary key (key_id, period)
        );
        create table x402_usage_holds (
          key_id text not null,
          period text not null,
          holder text not null,
          units bigint not null check (units >= 0),
          expires_at bigint not null,
          primary key (key_id, period, holder)
        );
        create index x402_usage_holds_holder on x402_usage_holds (holder);
        create index x402_usage_holds_expires on x402_usage_holds (expires_at);`,
    },
    {
      version: 2,
      name: 'usage events by time',
      // The export's pages of a period, every key's, oldest first (UsageStore.events), in
      // byte order ("C") as SQLite and the memory store compare ids, whatever the database's collation.
      sql: 'create index x402_usage_at on x402_usage (at, request_id collate "C");',
    },
  ],
}
