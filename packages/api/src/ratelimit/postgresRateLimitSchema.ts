import type { SchemaComponent } from '../postgres/migrate.js'

/**
 * The rate-limit store's table: one row per key and policy shape (`sw:<windowMs>`,
 * `fw:<windowMs>`, `tb`), its algorithm's state as JSON and when it is worth nothing (ms
 * epoch, on the database's clock). No index on `expires_at`: the prune is rare and
 * bounded, and without one every decision's update stays a HOT update.
 */
export const rateLimitSchema: SchemaComponent = {
  component: 'ratelimit',
  migrations: [
    {
      version: 1,
      name: 'create x402_rate_limits',
      sql: `create table x402_rate_limits (
        key text not null,
        policy text not null,
        state jsonb,
        expires_at bigint not null,
        primary key (key, policy)
      )`,
    },
  ],
}
