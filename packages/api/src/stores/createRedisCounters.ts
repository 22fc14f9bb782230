import { type RedisStoreOptions, storeClient } from '../redis/openRedisClient.js'
import { type RedisStoreName, redisCall } from '../redis/redisClient.js'
import { redisScript, runScript } from '../redis/runScript.js'
import type { Counters } from './types.js'

const name: RedisStoreName = {
  store: 'redis-counters',
  what: 'counters',
  meanwhile: 'free-tier routes answer 503 and serve nothing for free',
}

// One fixed window per key, started at the key's first take (as createMemoryCounters does),
// on Redis's clock so that every process sees the same window. Hash fields: used, resetAt
// (ms epoch). ARGV: cost, limit, windowMs. Returns { ok, remaining, resetAt }, integers.
const takeScript = redisScript(`
local cost, limit, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'used', 'resetAt')
local used, resetAt = tonumber(s[1]), tonumber(s[2])
local fresh = used == nil or resetAt == nil or resetAt <= t
if fresh then used, resetAt = 0, t + w end
local ok = 0
if used + cost <= limit then
  used = used + cost
  ok = 1
end
if ok == 1 or fresh then
  redis.call('HSET', KEYS[1], 'used', used, 'resetAt', string.format('%d', resetAt))
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', resetAt))
end
return { ok, limit - used, resetAt }
`)

/**
 * Fixed-window counters in Redis, shared by every process on it: one atomic Lua script per
 * take (`EVALSHA`), so that the takes that succeed never add up to more than `limit` in a
 * window. A window starts at a key's first take, on Redis's clock, and the key expires with
 * it. Keys are `<prefix>{<key>}`. A call that Redis cannot answer rejects with
 * `store_unavailable`.
 *
 * @example
 * const counters = createRedisCounters({ url: 'redis://127.0.0.1:6379' })
 * const { ok, remaining, resetAt } = await counters.take('free:/search:1.2.3.4', 1, 100, 86_400_000)
 */
export function createRedisCounters(options: RedisStoreOptions): Counters & { close(): Promise<void> } {
  const prefix = options.prefix ?? '402x:count:'
  const { client, release } = storeClient(options, 'createRedisCounters url')
  return {
    async take(key, cost, limit, windowMs) {
      const args = [cost, limit, Math.max(1, Math.ceil(windowMs))]
      const [ok, remaining, resetAt] = (await redisCall(client, name, () =>
        runScript(client, takeScript, [`${prefix}{${key}}`], args),
      )) as number[]
      return { ok: ok === 1, remaining: remaining ?? 0, resetAt: resetAt ?? 0 }
    },
    close: release,
  }
}
