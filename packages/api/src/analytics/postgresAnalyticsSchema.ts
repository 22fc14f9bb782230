import type { SchemaComponent } from '../postgres/migrate.js'

/** The PostgreSQL minute aggregates' schema (component `analytics`); amounts `numeric(78,0)`. */
export const analyticsSchema: SchemaComponent = {
  component: 'analytics',
  migrations: [
    {
      version: 1,
      name: 'minutes',
      sql: `
create table x402_analytics_minutes (
  minute bigint not null,
  dim text not null,
  key text not null,
  outcome text not null,
  requests bigint not null,
  amount numeric(78, 0) not null,
  primary key (minute, dim, key, outcome)
);
`,
    },
  ],
}
