import { randomUUID } from 'node:crypto'
import { heartbeat } from '../postgres/heartbeat.js'
import type { Pg } from '../postgres/openPostgres.js'
import type { Tx, Write } from './postgresCreditPosting.js'

/**
 * The PostgreSQL credit store's change signal ({@link CreditStore.version}): every writing
 * transaction notifies one channel (`pg_notify`, sent on commit only), and each store object
 * `LISTEN`s on it and counts the notifications of the other writers. The channel is named
 * after the schema (`search_path`): stores of two schemas in one database do not disturb
 * each other.
 *
 * While nothing listens (before the first `LISTEN`, when it failed, or when its own heartbeat
 * has not come back for 3 s: postgres/heartbeat.ts) every read is a change, so a reader
 * never trusts a cache it cannot keep fresh. A `LISTEN` that is (re)established counts as a
 * change too: what was notified while it was down is lost.
 */
export type CreditSignal = {
  version(): number
  /** Starts listening if it is not yet (awaited once; a failure is retried on a later call). */
  ready(): Promise<void>
  /** Notifies the other store objects, on commit of `tx`, of the accounts `w` moved. */
  notify(tx: Tx, w: Write): Promise<void>
  /** What the other writers changed since the last call (CreditStore.changes). */
  changes(): { accounts: string[] | 'all'; tokens: boolean }
  /** The channel and this store object's payload, for a statement that notifies itself. */
  target(): Promise<{ channel: string; self: string }>
  close(): Promise<void>
}

const retryMs = 1_000

export function creditSignal(sql: Pg): CreditSignal {
  const self = randomUUID()
  let count = 0
  let live = false
  let closed = false
  let channel: string | undefined
  let starting: Promise<void> | undefined
  let unlisten: (() => Promise<void>) | undefined

  const channelOf = async () => {
    if (channel === undefined) {
      const [row] = await sql<{ channel: string }[]>`
        select 'x402_credits_' || left(md5(coalesce(current_schema(), '')), 16) as channel`
      channel = (row as { channel: string }).channel
    }
    return channel
  }
  const beat = heartbeat(sql, channelOf, self)
  // What the others changed since `changes()` was last read: accounts, or everything.
  let all = true
  let tokens = false
  const dirty = new Set<string>()
  /** `<writer>|<t if a token was revoked>|<accounts, comma-separated, or *>` */
  const heard = (payload: string) => {
    const [from, flags, accounts] = payload.split('|')
    if (from === self) return
    count++
    if (flags === undefined || accounts === undefined || accounts === '*') all = true
    else for (const account of accounts.split(',')) if (account) dirty.add(account)
    if (flags?.includes('t')) tokens = true
  }
  const start = async () => {
    const name = await channelOf()
    const meta = await sql.listen(
      name,
      (payload) => {
        if (!beat.heard(payload)) heard(payload)
      },
      () => {
        live = true
        beat.start()
        all = true // what was notified while it was down is lost
        count++
      },
    )
    if (closed) await meta.unlisten()
    else unlisten = meta.unlisten
  }

  return {
    version() {
      if (live && beat.fresh()) return count
      all = true
      return ++count
    },
    changes() {
      const out = { accounts: all ? ('all' as const) : [...dirty], tokens: all || tokens }
      all = false
      tokens = false
      dirty.clear()
      return out
    },
    async ready() {
      await channelOf()
      if (live || closed) return
      starting ??= start().catch(() => {
        // Methods go on without it (every read of version() is then a change); retried later.
        setTimeout(() => {
          starting = undefined
        }, retryMs).unref?.()
      })
      await starting
    },
    target: async () => ({ channel: await channelOf(), self }),
    async notify(tx, w) {
      const accounts = [...new Set([...w.locked.keys()].map((a) => a.slice(a.indexOf(':') + 1)))]
      const joined = accounts.join(',')
      // NOTIFY takes 8000 bytes: a longer list, or an account the list cannot carry, says
      // "everything".
      const named = joined.length > 6000 || accounts.some((a) => /[|,]/.test(a)) ? '*' : joined
      await tx`select pg_notify(${await channelOf()}, ${`${self}|${w.tokens ? 't' : ''}|${named}`})`
    },
    async close() {
      closed = true
      live = false
      beat.stop()
      await starting
      await unlisten?.()
      unlisten = undefined
    },
  }
}
