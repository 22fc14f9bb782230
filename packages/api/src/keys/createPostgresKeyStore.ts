import { randomUUID } from 'node:crypto'
import { heartbeat } from '../postgres/heartbeat.js'
import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import { outboxIdOf } from '../webhooks/outboxId.js'
import { ensureEventSchemas, postgresStoreEvents, writeStoreEvents } from '../webhooks/postgresStoreEvents.js'
import { checkPlan } from './checkPlan.js'
import { revokedOrder, revokeEventsOf } from './mintedKeys.js'
import { newKeyRecord } from './newKeyRecord.js'
import { keySchema } from './postgresKeySchema.js'
import type { ApiKeyRecord, KeyStore, PlanDefinition } from './types.js'

export type PostgresKeyStoreOptions = ({ url: string } | { sql: Pg }) & {
  /**
   * The clock (ms epoch) for timestamps.
   * @default Date.now
   */
  now?: () => number
}

/** The channel every write notifies, in its own statement, with the schema it wrote in. */
const channel = 'x402_keys'

type Row = {
  id: string
  hash: string
  name: string
  owner: string | null
  plan: string
  metadata: Record<string, string>
  start: string
  account: string
  created_at: bigint
  expires_at: bigint | null
  revoked_at: bigint | null
}

const toRecord = (row: Row): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  owner: row.owner ?? undefined,
  plan: row.plan,
  metadata: row.metadata,
  start: row.start,
  hash: row.hash,
  account: row.account,
  createdAt: Number(row.created_at),
  expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
  revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at),
})

/**
 * API keys and run-time plans on PostgreSQL, shared by every instance. Each write notifies
 * `x402_keys` in the statement that makes it (`pg_notify`, delivered on commit), and every
 * store object `LISTEN`s there: `version()` moves on its own writes at once and on another
 * instance's as soon as the notification arrives, so that a `createKeyLookup` in front of
 * this store forgets a revoked key everywhere. A lost listening connection moves it too
 * (what was missed meanwhile is unknown), once it listens again.
 *
 * @example
 * const keys = createPostgresKeyStore({ url: process.env.X402_DATABASE_URL })
 * const { key } = await keys.create({ name: 'acme', plan: 'free', mode: 'live' })
 */
export function createPostgresKeyStore(options: PostgresKeyStoreOptions): KeyStore {
  const clock = options.now ?? Date.now
  const pool =
    'sql' in options ? { sql: options.sql, release: async () => {} } : openPostgres(options.url, 'X402_DATABASE_URL')
  const { sql } = pool
  // Webhook events go straight into the ledger's outbox when the ledger is in this database.
  const self = outboxIdOf('url' in options ? { url: options.url } : undefined)
  let version = 0
  let unlisten: (() => Promise<void>) | undefined
  let closed = false
  // Listening starts before the first read, so that a write committed after a read was
  // answered is always notified: the cache in front never keeps a record without hearing.
  let ready: Promise<void> | undefined
  // Its own heartbeat proves the LISTEN still hears (postgres/heartbeat.ts): until it does,
  // and whenever it stops, every read of version() is a change.
  const beat = heartbeat(sql, async () => channel, randomUUID())
  const start = async () => {
    await ensureSchema(sql, keySchema)
    await ensureEventSchemas(sql)
    const [row] = await sql<{ schema: string | null }[]>`select current_schema() as schema`
    const schema = row?.schema ?? ''
    const listening = await sql.listen(
      channel,
      (payload) => {
        // Another schema of the same database (another tenant's tables) is none of ours.
        if (!beat.heard(payload) && payload === schema) version++
      },
      () => {
        beat.start()
        version++
      },
    )
    if (closed) await listening.unlisten()
    else unlisten = listening.unlisten
  }
  const run = <T>(fn: () => Promise<T>) =>
    guarded(sql, 'key', async () => {
      ready ??= start().catch((error) => {
        ready = undefined
        throw error
      })
      await ready
      return fn()
    })
  const wrote = () => {
    version++
  }
  return {
    create: (input, events) =>
      run(async () => {
        const { key, record: r } = newKeyRecord(input, clock())
        // The key and its events commit together; the notification goes out on commit.
        await sql.begin(async (tx) => {
          await tx`
            with added as (
              insert into x402_api_keys (id, hash, name, owner, plan, metadata, start, account, created_at, expires_at)
              values (${r.id}, ${r.hash}, ${r.name}, ${r.owner ?? null}, ${r.plan}, ${sql.json(r.metadata)}, ${r.start},
                ${r.account}, ${r.createdAt}, ${r.expiresAt ?? null})
              returning 1
            )
            select pg_notify(${channel}, current_schema()) from added`
          await writeStoreEvents(tx, events?.(r), self)
        })
        wrote()
        return { key, record: r }
      }),
    findByHash: (hash) =>
      run(async () => {
        const [row] = await sql<Row[]>`select * from x402_api_keys where hash = ${hash}`
        return row && toRecord(row)
      }),
    get: (id) =>
      run(async () => {
        const [row] = await sql<Row[]>`select * from x402_api_keys where id = ${id}`
        return row && toRecord(row)
      }),
    list: ({ plan, includeRevoked = false } = {}) =>
      run(async () => {
        const rows = await sql<Row[]>`
          select * from x402_api_keys
          where (${plan ?? null}::text is null or plan = ${plan ?? null})
            and (${includeRevoked} or revoked_at is null)
          order by created_at, seq`
        return rows.map(toRecord)
      }),
    revoke: (id, events) =>
      run(async () => {
        const revoked = await sql.begin(async (tx) => {
          // The key and the keys minted from it (`mintedFrom`: owned by `key:<id>`, or
          // `metadata.mintedBy` it), recursively: `union`, not `union all`, so that a loop
          // ends. One notification per transaction (PostgreSQL folds identical ones).
          const rows = await tx<Row[]>`
            with recursive tree (id) as (
              select id from x402_api_keys where id = ${id}
              union select k.id from x402_api_keys k join tree
                on k.owner = 'key:' || tree.id or k.metadata ->> 'mintedBy' = tree.id
            ), revoked as (
              update x402_api_keys set revoked_at = ${clock()}
              where id in (select id from tree) and revoked_at is null returning *
            )
            select revoked.*, pg_notify(${channel}, current_schema()) from revoked`
          const records = rows.map(toRecord).sort(revokedOrder(id))
          await writeStoreEvents(tx, revokeEventsOf(events, id, records), self)
          return records
        })
        if (revoked.length > 0) wrote()
        return revoked[0]?.id === id
      }),
    putPlan: (plan) =>
      run(async () => {
        checkPlan(plan)
        // Sent as text, then cast: a parameter typed jsonb would be stringified a second time.
        await sql`
          with put as (
            insert into x402_api_plans (name, definition, updated_at)
            values (${plan.name}, ${JSON.stringify(plan)}::text::jsonb, ${clock()})
            on conflict (name) do update set definition = excluded.definition, updated_at = excluded.updated_at
            returning 1
          )
          select pg_notify(${channel}, current_schema()) from put`
        wrote()
      }),
    plans: () =>
      run(async () => {
        const rows = await sql<
          { definition: PlanDefinition }[]
        >`select definition from x402_api_plans order by name collate "C"`
        return rows.map((row) => row.definition)
      }),
    webhookEvents: postgresStoreEvents(sql, 'key'),
    version: () => (beat.fresh() ? version : ++version),
    async close() {
      if (closed) return
      closed = true
      beat.stop()
      await unlisten?.().catch(() => {})
      await pool.release()
    },
  }
}
