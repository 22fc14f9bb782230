import { randomUUID } from 'node:crypto'
import { type RedisStoreOptions, storeClient } from '../redis/openRedisClient.js'
import { type RedisStoreName, redisCall } from '../redis/redisClient.js'
import { redisScript, runScript } from '../redis/runScript.js'
import type { Locks } from './types.js'

const name: RedisStoreName = {
  store: 'redis-locks',
  what: 'locks',
  meanwhile: 'priced routes answer 503 with Retry-After and serve nothing unpaid',
}

// Frees the lock only while it still holds this holder's token: a lock that expired and was
// taken by another holder is theirs, and the first holder's late release must not free it.
const releaseScript = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

/**
 * In-flight locks in Redis, shared by every process on it: `SET NX PX` with a token per
 * acquire, released by a compare-and-delete script, so that only the holder frees its lock.
 * Keys are `<prefix>{<key>}`. A call that Redis cannot answer rejects with
 * `store_unavailable`.
 *
 * @example
 * const locks = createRedisLocks({ url: 'redis://127.0.0.1:6379' })
 * if (await locks.acquire(key, 60_000)) try { … } finally { await locks.release(key) }
 * await locks.close()
 */
export function createRedisLocks(options: RedisStoreOptions): Locks & { close(): Promise<void> } {
  const prefix = options.prefix ?? '402x:lock:'
  const { client, release } = storeClient(options, 'createRedisLocks url')
  // The token of each lock this object holds (what its release compares), and when the lock
  // expires by itself: a lock never released is forgotten once it has, as the map grows.
  const held = new Map<string, { token: string; until: number }>()
  let sweepAt = 1024
  const sweep = () => {
    if (held.size < sweepAt) return
    const now = Date.now()
    for (const [key, lock] of held) if (lock.until <= now) held.delete(key)
    sweepAt = Math.max(1024, held.size * 2)
  }
  return {
    async acquire(key, ttlMs) {
      const token = randomUUID()
      const px = Math.max(1, Math.ceil(ttlMs))
      const set = await redisCall(client, name, () => client.set(`${prefix}{${key}}`, token, 'PX', px, 'NX'))
      if (set !== 'OK') return false
      sweep()
      held.set(key, { token, until: Date.now() + px })
      return true
    },
    async release(key) {
      const lock = held.get(key)
      if (lock === undefined) return
      await redisCall(client, name, () => runScript(client, releaseScript, [`${prefix}{${key}}`], [lock.token]))
      if (held.get(key) === lock) held.delete(key)
    },
    close: release,
  }
}
