import { openPostgresStore, type PostgresStoreOptions, sweepNow } from './openPostgresStore.js'
import { coordinationSchema } from './postgresCoordinationSchema.js'
import type { SpentProofs } from './types.js'

/**
 * Spent sign-in proofs on PostgreSQL, shared by every instance of a seller that has
 * PostgreSQL and no Redis. A spend is one upsert: it takes the key when it is new or its
 * earlier spend has expired (`expiresAt`, an ms epoch as the caller gives it, compared with
 * the caller's clock), so of concurrent spends exactly one is `true`. Expired proofs are
 * swept now and then.
 *
 * @example
 * const proofs = createPostgresSpentProofs({ url: process.env.X402_DATABASE_URL! })
 * await proofs.spend(`${address}:${nonce}`, expiresAt) // true, then false
 */
export function createPostgresSpentProofs(options: PostgresStoreOptions): SpentProofs & { close(): Promise<void> } {
  const { sql, run, close } = openPostgresStore(options, 'spent proofs', coordinationSchema)
  return {
    spend: (key, expiresAt) =>
      run(async () => {
        const now = Date.now()
        const rows = await sql`insert into x402_spent_proofs (key, expires_at) values (${key}, ${expiresAt})
          on conflict (key) do update set expires_at = excluded.expires_at
          where x402_spent_proofs.expires_at <= ${now}
          returning key`
        // Swept in the background: a failed sweep never fails the write that already committed.
        if (sweepNow(1_000)) void sql`delete from x402_spent_proofs where expires_at <= ${now}`.catch(() => {})
        return rows.length === 1
      }),
    close,
  }
}
