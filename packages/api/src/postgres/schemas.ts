import { analyticsSchema } from '../analytics/postgresAnalyticsSchema.js'
import { creditSchema } from '../credits/postgresCreditSchema.js'
import { keySchema, usageSchema } from '../keys/postgresKeySchema.js'
import { ledgerSchema } from '../ledger/postgresLedgerSchema.js'
import { rateLimitSchema } from '../ratelimit/postgresRateLimitSchema.js'
import { coordinationSchema } from '../stores/postgresCoordinationSchema.js'
import { eventsSchema } from '../webhooks/postgresStoreEvents.js'
import { type Migrated, migrate, type SchemaComponent } from './migrate.js'
import { openPostgres } from './openPostgres.js'

/** Every store's schema on PostgreSQL, in the order `402x migrate` applies them. */
export const allSchemas: readonly SchemaComponent[] = [
  ledgerSchema,
  creditSchema,
  keySchema,
  usageSchema,
  coordinationSchema,
  rateLimitSchema,
  analyticsSchema,
  eventsSchema,
]

/**
 * Brings a PostgreSQL database up to every schema this 402x knows (`402x migrate`; each
 * instance also does it on start), one instance at a time. Refuses a database migrated by
 * a newer release.
 *
 * @example
 * const done = await migrateDatabase('postgres://127.0.0.1:5432/app')
 * // [{ component: 'ledger', from: 0, to: 3 }, …] (empty when already up to date)
 */
export async function migrateDatabase(url: string, from = 'X402_DATABASE_URL'): Promise<Migrated[]> {
  const { sql, release } = openPostgres(url, from)
  try {
    return await migrate(sql, allSchemas)
  } finally {
    await release()
  }
}

/** The versions a database is at, per component (0: never migrated). */
export async function schemaVersions(url: string, from = 'X402_DATABASE_URL'): Promise<Record<string, number>> {
  const { sql, release } = openPostgres(url, from)
  try {
    const [table] = await sql<{ t: string | null }[]>`select to_regclass('x402_schema')::text as t`
    const rows = table?.t
      ? await sql<{ component: string; v: number }[]>`
          select component, max(version) as v from x402_schema group by component`
      : []
    const found = Object.fromEntries(rows.map((r) => [r.component, r.v]))
    return Object.fromEntries(allSchemas.map((s) => [s.component, found[s.component] ?? 0]))
  } finally {
    await release()
  }
}

/** URLs this process has migrated (or is migrating) on start. */
const started = new Map<string, Promise<void>>()

/**
 * Migrates a database on start, once per URL and process, without holding start-up (the
 * middleware is made synchronously): each store also waits for its own schema before its
 * first query. A database this release cannot use (migrated by a newer one) is said at once
 * on stderr, and every priced call answers with the same message until it is fixed.
 *
 * @example
 * migrateOnStart('postgres://127.0.0.1:5432/app', 'X402_DATABASE_URL')
 */
export function migrateOnStart(url: string, from: string): Promise<void> {
  let run = started.get(url)
  if (!run) {
    run = migrateDatabase(url, from).then(
      () => undefined,
      (error: Error) => {
        started.delete(url)
        console.error(`402x: ${from}: ${error.message}`)
      },
    )
    started.set(url, run)
  }
  return run
}
