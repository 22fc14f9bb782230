import { ensureSchema, type SchemaComponent } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'

/** Where a PostgreSQL store's pool comes from. */
export type PostgresStoreOptions =
  | {
      /** A PostgreSQL URL (`postgres://…`): the pool is opened here, and `close()` releases it. */
      url: string
    }
  | {
      /** A pool opened elsewhere (`openPostgres`): left open by `close()`. */
      sql: Pg
    }

/**
 * A PostgreSQL store's pool, how to run one of its calls (its schema migrated first, any
 * database failure turned into `store_unavailable`), and how to let go of the pool.
 *
 * @example
 * const { sql, run, close } = openPostgresStore(options, 'locks', coordinationSchema)
 * await run(() => sql`delete from x402_locks where key = ${key}`)
 */
export function openPostgresStore(options: PostgresStoreOptions, store: string, schema: SchemaComponent) {
  const opened = 'url' in options ? openPostgres(options.url, 'X402_DATABASE_URL') : undefined
  const sql = opened ? opened.sql : (options as { sql: Pg }).sql
  return {
    sql,
    run: <T>(fn: () => Promise<T>): Promise<T> =>
      guarded(sql, store, async () => {
        await ensureSchema(sql, schema)
        return fn()
      }),
    close: async () => {
      await opened?.release()
    },
  }
}

/**
 * Whether to sweep expired rows now: about once per `every` calls, at random, so that
 * instances sharing a table do not all sweep at once.
 */
export const sweepNow = (every: number) => Math.random() * every < 1
