import type { Pg } from './openPostgres.js'

/** What a store's change signal learns from its own heartbeats. */
export type Heartbeat = {
  /**
   * Reads a notification: `true` when it is a heartbeat (anyone's: never a change), after
   * noting when this store's own was last heard.
   */
  heard(payload: string): boolean
  /** Whether this store's own heartbeat came back lately: the `LISTEN` is live. */
  fresh(): boolean
  /** Counts from now (a `LISTEN` just established), and starts beating. */
  start(): void
  stop(): void
}

/** Heartbeats are sent this often… */
const everyMs = 1_000
/** …and a listener that has not heard its own for this long is not trusted. */
const staleMs = 3_000

/**
 * Proof that a `LISTEN` still hears: the store notifies its own channel every second
 * (`hb:<id>`) through the pool, and the listener notes when it comes back. A listener whose
 * connection dropped, stalled, or went through a pooler that does not pass `LISTEN` on stops
 * hearing it; after 3 s the store's `version()` then changes on every read, so that no cache
 * in front of it (a revoked key, a revoked credit token, a balance) outlives the outage.
 *
 * @example
 * const beat = heartbeat(sql, () => channel, self)
 * sql.listen(channel, (payload) => { if (!beat.heard(payload)) count++ }, () => beat.start())
 * const version = () => (beat.fresh() ? count : ++count)
 */
export function heartbeat(sql: Pg, channel: () => Promise<string>, self: string): Heartbeat {
  const mine = `hb:${self}`
  let lastHeard = 0
  let timer: ReturnType<typeof setInterval> | undefined
  const beat = async () => {
    await sql`select pg_notify(${await channel()}, ${mine})`
  }
  return {
    heard(payload) {
      if (!payload.startsWith('hb:')) return false
      if (payload === mine) lastHeard = Date.now()
      return true
    },
    fresh: () => Date.now() - lastHeard < staleMs,
    start() {
      lastHeard = Date.now()
      if (timer) return
      timer = setInterval(() => void beat().catch(() => {}), everyMs)
      timer.unref?.()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      lastHeard = 0
    },
  }
}
