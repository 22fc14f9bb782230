import type { Redis } from 'ioredis'
import { openRedisClient } from '../redis/openRedisClient.js'
import { type RedisStoreName, redisCall } from '../redis/redisClient.js'
import { redisScript, runScript } from '../redis/runScript.js'
import { decisionOf } from './algorithm.js'
import { fixedWindowLua, slidingWindowLua, tokenBucketLua } from './redisScripts.js'
import type { RateLimitStore, RatePolicy } from './types.js'

type Shared = {
  /**
   * Prepended to every key. Keep braces out of it: the key that follows is the hash tag.
   * @default '402x:rl:'
   */
  prefix?: string
}
export type RedisRateLimitStoreOptions = Shared &
  (
    | {
        /**
         * The Redis to connect to, through the one client of the process for this URL: it fails
         * fast while Redis is down (no offline queue, one try per command, 1 s command timeout)
         * and reconnects by itself. `close()` lets go of it (the last user closes it).
         * @default 'redis://127.0.0.1:6379'
         */
        url?: string
        client?: never
      }
    | {
        /** A client of yours, used as it is configured, and left open by `close()`. */
        client: Redis
        url?: never
      }
  )

const scripts = {
  sliding: redisScript(slidingWindowLua),
  fixed: redisScript(fixedWindowLua),
  bucket: redisScript(tokenBucketLua),
}
const name: RedisStoreName = {
  store: 'redis-rate-limit',
  what: 'rate-limit',
  meanwhile: "each limited route follows its `onStoreError` ('open' serves, 'closed' answers 503)",
}

/**
 * A rate-limit store in Redis, shared by every process that uses it: one `EVALSHA` round
 * trip per decision, each an atomic Lua script that reads Redis's own clock. Keys are
 * `<prefix>{<key>}:<algorithm>[:<windowMs>]` (hash-tagged for Redis Cluster), each with a
 * TTL. A call that Redis cannot answer rejects at once with `store_unavailable`. Stores
 * given the same `url` share one client (`openRedisClient`).
 *
 * @example
 * const store = createRedisRateLimitStore({ url: 'redis://127.0.0.1:6379' })
 * const policy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 } as const
 * const { ok, retryAfterMs } = await store.consume('plan:pro:0xabc', 1, policy)
 * await store.close()
 */
export function createRedisRateLimitStore(options: RedisRateLimitStoreOptions = {}): RateLimitStore {
  const prefix = options.prefix ?? '402x:rl:'
  const opened = options.client
    ? { client: options.client, release: async () => {} }
    : openRedisClient(options.url ?? 'redis://127.0.0.1:6379', 'createRedisRateLimitStore url')
  const { client } = opened

  const run = (which: keyof typeof scripts, key: string, args: (string | number)[]) =>
    redisCall(client, name, () => runScript(client, scripts[which], [key], args))
  const call = (op: 'take' | 'refund', key: string, cost: number, policy: RatePolicy) => {
    const tag = `${prefix}{${key}}`
    if (policy.algorithm === 'token-bucket')
      return run('bucket', `${tag}:tb`, [cost, policy.capacity, policy.refillPerSecond, op])
    const [which, suffix] =
      policy.algorithm === 'fixed-window' ? (['fixed', 'fw'] as const) : (['sliding', 'sw'] as const)
    return run(which, `${tag}:${suffix}:${policy.windowMs}`, [cost, policy.limit, policy.windowMs, op])
  }

  return {
    // Not `async`: the decision is read in the reply's own turn, with no promise between.
    consume(key, cost, policy) {
      return call('take', key, cost, policy).then((reply) => decisionOf(reply as number[], policy))
    },
    async refund(key, cost, policy) {
      await call('refund', key, cost, policy)
    },
    close: opened.release,
  }
}
