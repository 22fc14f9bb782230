import { outboxIdOf } from '../webhooks/outboxId.js'
import { sqliteStoreEvents } from '../webhooks/sqliteStoreEvents.js'
import { checkPlan } from './checkPlan.js'
import { revokedOrder, revokeEventsOf } from './mintedKeys.js'
import { newKeyRecord } from './newKeyRecord.js'
import { openKeysDb, type SqliteStoreOptions } from './openKeysDb.js'
import { sqliteKeyComponent } from './sqliteKeySchema.js'
import type { ApiKeyRecord, KeyStore, PlanDefinition } from './types.js'

type Row = {
  id: string
  hash: string
  name: string
  owner: string | null
  plan: string
  metadata: string
  start: string
  account: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
}

const toRecord = (row: Row): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  owner: row.owner ?? undefined,
  plan: row.plan,
  metadata: JSON.parse(row.metadata) as Record<string, string>,
  start: row.start,
  hash: row.hash,
  account: row.account,
  createdAt: Number(row.created_at),
  expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
  revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at),
})

/**
 * API keys and run-time plans in SQLite (WAL), in the ledger's file or their own. A revoke
 * by another connection or process moves `version()` (SQLite's `data_version`), so that a
 * `createKeyLookup` in front of this store refuses the key on its next request.
 *
 * @example
 * const keys = createSqliteKeyStore({ path: '.402x/ledger.db' })
 * const { key } = await keys.create({ name: 'acme', plan: 'free', mode: 'live' })
 */
export function createSqliteKeyStore(options: SqliteStoreOptions): KeyStore {
  const clock = options.now ?? Date.now
  const {
    db,
    guard,
    atomically,
    dataVersion,
    wrote: count,
    writes,
    close,
  } = openKeysDb(options, sqliteKeyComponent, 'key store')
  // Webhook events, written in the transaction of the key they report.
  const relay = sqliteStoreEvents(db, outboxIdOf({ path: options.path }))
  const q = {
    insert: db.prepare(`INSERT INTO api_keys
      (id, hash, name, owner, plan, metadata, start, account, created_at, expires_at, revoked_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`),
    byHash: db.prepare('SELECT * FROM api_keys WHERE hash = ?'),
    byId: db.prepare('SELECT * FROM api_keys WHERE id = ?'),
    // The key and the keys minted from it (`mintedFrom`: owned by `key:<id>`, or
    // `metadata.mintedBy` it), recursively: UNION, not UNION ALL, so that a loop ends.
    revoke: db.prepare(`WITH RECURSIVE tree (id) AS (
        SELECT id FROM api_keys WHERE id = @id
        UNION SELECT k.id FROM api_keys k JOIN tree
          ON k.owner = 'key:' || tree.id OR json_extract(k.metadata, '$.mintedBy') = tree.id
      )
      UPDATE api_keys SET revoked_at = @at WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL
      RETURNING *`),
    putPlan: db.prepare(`INSERT INTO api_plans (name, definition, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`),
    plans: db.prepare('SELECT definition FROM api_plans ORDER BY name'),
  }
  // `data_version` moves on other connections' commits only (another process's, or of
  // another file handle): this store's own writes move `version` themselves, and `version()`
  // moves it on those, and on another key store object's of this process on the connection.
  let seenData = dataVersion()
  let seenWrites = writes('keys')
  let version = 0
  const wrote = () => {
    version++
    count('keys')
    seenWrites = writes('keys')
  }
  return {
    create: (input, events) =>
      guard(() => {
        const { key, record: r } = newKeyRecord(input, clock())
        atomically(() => {
          q.insert.run(
            r.id,
            r.hash,
            r.name,
            r.owner ?? null,
            r.plan,
            JSON.stringify(r.metadata),
            r.start,
            r.account,
            r.createdAt,
            r.expiresAt ?? null,
          )
          relay.write(events?.(r))
        })
        wrote()
        return { key, record: r }
      }),
    findByHash: (hash) => guard(() => ((row) => row && toRecord(row))(q.byHash.get(hash) as Row | undefined)),
    get: (id) => guard(() => ((row) => row && toRecord(row))(q.byId.get(id) as Row | undefined)),
    list: ({ plan, includeRevoked = false } = {}) =>
      guard(() => {
        const where = [plan === undefined ? '' : 'plan = ?', includeRevoked ? '' : 'revoked_at IS NULL'].filter(Boolean)
        const sql = `SELECT * FROM api_keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, rowid`
        return (db.prepare(sql).all(...(plan === undefined ? [] : [plan])) as Row[]).map(toRecord)
      }),
    revoke: (id, events) =>
      guard(() => {
        const revoked = atomically(() => {
          const rows = (q.revoke.all({ id, at: clock() }) as Row[]).map(toRecord).sort(revokedOrder(id))
          relay.write(revokeEventsOf(events, id, rows))
          return rows
        })
        if (revoked.length > 0) wrote()
        return revoked[0]?.id === id
      }),
    putPlan: (plan) =>
      guard(() => {
        checkPlan(plan)
        q.putPlan.run(plan.name, JSON.stringify(plan), clock())
        wrote()
      }),
    plans: () =>
      guard(() =>
        (q.plans.all() as { definition: string }[]).map((row) => JSON.parse(row.definition) as PlanDefinition),
      ),
    webhookEvents: relay.source,
    version: () => {
      const data = dataVersion()
      const local = writes('keys')
      if (data !== seenData || local !== seenWrites) {
        seenData = data
        seenWrites = local
        version++
      }
      return version
    },
    close: () => guard(close),
  }
}
