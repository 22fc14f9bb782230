import { randomUUID } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { stableId } from './eventIds.js'

/**
 * The id of the outbox in a database (`WebhookOutbox.id`), the same for every store object
 * and process on it: a SQLite file by its real path, a PostgreSQL database by its URL (hashed:
 * a URL may hold a password). A store on the same database as the ledger writes its events
 * straight into the ledger's outbox, in its own transaction; a store elsewhere keeps them in
 * its own database until the worker moves them (`StoreEvents`). A location that cannot be
 * named (`:memory:`, a pool given in code) gets an id of its own: its events are always moved.
 *
 * @example
 * outboxIdOf({ path: '.402x/ledger.db' }) // 'obx_…', the same for every connection on the file
 */
export function outboxIdOf(location: { path: string } | { url: string } | undefined): string {
  if (location && 'url' in location) return stableId('obx', 'postgres', location.url)
  if (location && location.path !== ':memory:') {
    try {
      return stableId('obx', 'sqlite', realpathSync(location.path))
    } catch {}
  }
  return `obx_${randomUUID()}`
}
