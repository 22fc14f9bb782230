import { type RedisStoreOptions, storeClient } from '../redis/openRedisClient.js'
import { type RedisStoreName, redisCall } from '../redis/redisClient.js'
import type { SpentProofs } from './types.js'

const name: RedisStoreName = {
  store: 'redis-spent-proofs',
  what: 'spent-proofs',
  meanwhile: 'sign-ins answer 503 and no proof is accepted',
}

/**
 * Spent sign-in proofs in Redis, shared by every process on it: one `SET NX PX` per spend,
 * so that of every spend of a proof exactly one is accepted. Keys are `<prefix>{<key>}`,
 * each kept until the proof's `expiresAt`. A call that Redis cannot answer rejects with
 * `store_unavailable`.
 *
 * @example
 * const proofs = createRedisSpentProofs({ url: 'redis://127.0.0.1:6379' })
 * await proofs.spend(`${address}:${nonce}`, expiresAt) // true, then false
 */
export function createRedisSpentProofs(options: RedisStoreOptions): SpentProofs & { close(): Promise<void> } {
  const prefix = options.prefix ?? '402x:proof:'
  const { client, release } = storeClient(options, 'createRedisSpentProofs url')
  return {
    async spend(key, expiresAt) {
      // The TTL on this process's clock (PX, not PXAT on Redis's): it is the clock that judged
      // the proof unexpired. A proof at its expiry is still kept a second, for a clock's skew.
      const px = Math.max(1_000, Math.ceil(expiresAt - Date.now()))
      const set = await redisCall(client, name, () => client.set(`${prefix}{${key}}`, '1', 'PX', px, 'NX'))
      return set === 'OK'
    },
    close: release,
  }
}
