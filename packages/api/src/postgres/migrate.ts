import { X402Error } from '@402x/core'
import type { Pg } from './openPostgres.js'

/** One step of a store's schema: applied once, in `version` order, inside one transaction. */
export type Migration = { version: number; name: string; sql: string }

/**
 * A store's schema, versioned on its own (`ledger`, `credits`, `keys` …), so that each store
 * owns its migrations and a database holds only the stores it is used for.
 */
export type SchemaComponent = { component: string; migrations: readonly Migration[] }

export type Migrated = { component: string; from: number; to: number }

/** The one advisory lock every 402x migration takes: one instance migrates at a time. */
const MIGRATION_LOCK = 402_402_402

/**
 * Brings `components` up to the versions this code knows, one instance at a time (a
 * transaction-scoped advisory lock; the others wait, then find nothing left to do). Each
 * migration runs in the same transaction as its record in `x402_schema`, so a failure
 * leaves the database as it was. A component at a newer version than this code knows is
 * refused: the database was migrated by a newer 402x, and this one could misread it.
 *
 * @example
 * const done = await migrate(sql, [ledgerSchema, creditSchema])
 * // [{ component: 'ledger', from: 0, to: 1 }, …]
 */
export async function migrate(sql: Pg, components: readonly SchemaComponent[]): Promise<Migrated[]> {
  return (await sql.begin(async (tx) => {
    // Another instance migrating is waited for, within the pool's 10 s per query (a run that
    // times out is tried again by the next store call); the lock's own 3 s is for requests.
    await tx`set local lock_timeout = '9s'`
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`create table if not exists x402_schema (
      component text not null,
      version integer not null,
      name text not null,
      applied_at timestamptz not null default now(),
      primary key (component, version)
    )`
    const done: Migrated[] = []
    for (const { component, migrations } of components) {
      const [row] = await tx<{ v: number | null }[]>`
        select max(version) as v from x402_schema where component = ${component}`
      const from = row?.v ?? 0
      const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0)
      if (from > latest) {
        throw new X402Error('invalid_config', {
          message:
            `the database's ${component} schema is at version ${from}, newer than this 402x knows (${latest}): ` +
            'it was migrated by a newer release. Run that release (or newer) against this database, or point ' +
            'X402_DATABASE_URL at another one; 402x does not migrate down.',
          details: { component, databaseVersion: from, knownVersion: latest },
        })
      }
      const pending = [...migrations].filter((m) => m.version > from).sort((a, b) => a.version - b.version)
      for (const m of pending) {
        await tx.unsafe(m.sql)
        await tx`insert into x402_schema (component, version, name) values (${component}, ${m.version}, ${m.name})`
      }
      if (pending.length > 0) done.push({ component, from, to: latest })
    }
    return done
  })) as Migrated[]
}

/** Per pool, per component: the one migration run this process waits on. */
const ensured = new WeakMap<Pg, Map<string, Promise<void>>>()

/**
 * Migrates one store's schema once per pool and process (every store of that component
 * awaits the same run). A failed run is forgotten, so that the next call tries again.
 *
 * @example
 * await ensureSchema(sql, ledgerSchema)
 */
export function ensureSchema(sql: Pg, schema: SchemaComponent): Promise<void> {
  let byComponent = ensured.get(sql)
  if (!byComponent) {
    byComponent = new Map()
    ensured.set(sql, byComponent)
  }
  const known = byComponent.get(schema.component)
  if (known) return known
  const run = migrate(sql, [schema]).then(() => undefined)
  byComponent.set(schema.component, run)
  run.catch(() => byComponent.delete(schema.component))
  return run
}
