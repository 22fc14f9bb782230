/**
 * The webhook outbox's tables on PostgreSQL (the ledger component's version 2): events,
 * one delivery per event and webhook, and the webhooks registered with the admin API.
 */
export const postgresOutboxSql = `
create table x402_webhook_events (
  seq bigint generated always as identity,
  id text primary key,
  type text not null,
  created_at bigint not null,
  body text not null,
  dispatched boolean not null default false
);
create index x402_webhook_events_new on x402_webhook_events (seq) where not dispatched;
create table x402_webhook_deliveries (
  seq bigint generated always as identity,
  id text primary key,
  event_id text not null,
  webhook_id text not null,
  type text not null,
  status text not null,
  attempts integer not null default 0,
  next_attempt_at bigint not null,
  last_error text,
  last_attempt_at bigint,
  created_at bigint not null,
  lease_owner text,
  lease_until bigint,
  unique (event_id, webhook_id)
);
create index x402_webhook_deliveries_due on x402_webhook_deliveries (next_attempt_at) where status = 'pending';
create index x402_webhook_deliveries_hook on x402_webhook_deliveries (webhook_id, last_attempt_at);
create index x402_webhook_deliveries_seq on x402_webhook_deliveries (seq);
create table x402_webhooks (
  id text primary key,
  url text not null,
  events text not null,
  secret text not null,
  created_at bigint not null
);
`

/**
 * The ledger component's version 3: `x402_webhooks` holds every instance's code and config
 * webhooks too (`source`, and `seen_at`: when an instance that has one last said so), never
 * their secrets, so that each instance fans events out to all of them.
 */
export const postgresWebhookOriginsSql = `
alter table x402_webhooks add column source text not null default 'admin', add column seen_at bigint;
`
