import { createHash } from 'node:crypto'
import { X402Error } from '@402x/core'
import { Redis } from 'ioredis'
import { fixedWindowLua, slidingWindowLua, tokenBucketLua } from './redisScripts.js'
import type { RateDecision, RateLimitStore, RatePolicy } from './types.js'

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
         * The Redis to connect to. The store's own client fails fast while Redis is down (no
         * offline queue, one try per command, 1 s command timeout) and reconnects by itself.
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

const script = (lua: string) => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })
const scripts = { sliding: script(slidingWindowLua), fixed: script(fixedWindowLua), bucket: script(tokenBucketLua) }

/**
 * A rate-limit store in Redis, shared by every process that uses it: one `EVALSHA` round
 * trip per decision, each an atomic Lua script that reads Redis's own clock. Keys are
 * `<prefix>{<key>}:<algorithm>[:<windowMs>]` (hash-tagged for Redis Cluster), each with a
 * TTL. A call that Redis cannot answer rejects at once with `store_unavailable`.
 *
 * @example
 * const store = createRedisRateLimitStore({ url: 'redis://127.0.0.1:6379' })
 * const policy = { algorithm: 'sliding-window', limit: 100, windowMs: 60_000 } as const
 * const { ok, retryAfterMs } = await store.consume('plan:pro:0xabc', 1, policy)
 * await store.close()
 */
export function createRedisRateLimitStore(options: RedisRateLimitStoreOptions = {}): RateLimitStore {
  const prefix = options.prefix ?? '402x:rl:'
  const owned = !options.client
  const client = options.client ?? ownClient(options.url ?? 'redis://127.0.0.1:6379')
  let lastError: Error | undefined
  if (owned) client.on('error', (error: Error) => (lastError = error))
  const connected = owned ? firstConnect(client) : Promise.resolve()

  const run = async (which: keyof typeof scripts, key: string, args: (string | number)[]) => {
    const { lua, sha } = scripts[which]
    try {
      await connected
      return await client.evalsha(sha, 1, key, ...args).catch((error: Error) => {
        if (!error.message.startsWith('NOSCRIPT')) throw error
        return client.eval(lua, 1, key, ...args) // loads it: the next EVALSHA finds it
      })
    } catch (cause) {
      throw unavailable(cause, lastError, where(client))
    }
  }
  const call = (op: 'take' | 'refund', key: string, cost: number, policy: RatePolicy) => {
    const tag = `${prefix}{${key}}`
    if (policy.algorithm === 'token-bucket')
      return run('bucket', `${tag}:tb`, [cost, policy.capacity, policy.refillPerSecond, op])
    const [which, name] =
      policy.algorithm === 'fixed-window' ? (['fixed', 'fw'] as const) : (['sliding', 'sw'] as const)
    return run(which, `${tag}:${name}:${policy.windowMs}`, [cost, policy.limit, policy.windowMs, op])
  }

  return {
    async consume(key, cost, policy) {
      const [ok, remaining, resetMs, retryAfterMs] = (await call('take', key, cost, policy)) as number[]
      const decision: RateDecision = {
        ok: ok === 1,
        limit: policy.algorithm === 'token-bucket' ? policy.capacity : policy.limit,
        remaining: remaining ?? 0,
        resetSeconds: Math.ceil((resetMs ?? 0) / 1000),
        retryAfterMs: retryAfterMs ?? 0,
      }
      return decision
    },
    async refund(key, cost, policy) {
      await call('refund', key, cost, policy)
    },
    async close() {
      if (!owned) return
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}

/** Fails fast while Redis is down (so the route can fail open or closed at once), and reconnects. */
const ownClient = (url: string) =>
  new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  })

/**
 * Without an offline queue, a command sent before the first connection is up would fail:
 * the first calls wait for it (bounded by the connect timeout), later ones never wait.
 */
function firstConnect(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('ready', done).off('error', done).off('end', done)
      resolve()
    }
    const timer = setTimeout(done, 2_000)
    client.once('ready', done).once('error', done).once('end', done)
  })
}

const where = (client: Redis) => `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`

function unavailable(cause: unknown, lastError: Error | undefined, at: string): X402Error {
  const reason = (cause as Error)?.message ?? String(cause)
  const seen = lastError && lastError.message !== reason ? ` (last connection error: ${lastError.message})` : ''
  return new X402Error('store_unavailable', {
    message:
      `the Redis rate-limit store at ${at} could not answer: ${reason}${seen}. ` +
      'Check that Redis is running and reachable there; the client reconnects by itself, and ' +
      "until then each limited route follows its `onStoreError` ('open' serves, 'closed' answers 503).",
    details: { store: 'redis-rate-limit', at },
    cause,
  })
}
