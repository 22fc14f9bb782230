import { X402Error } from '@402x/core'
import { isRedisUrl } from '../redis/openRedisClient.js'
import { createMemoryRateLimitStore } from './createMemoryRateLimitStore.js'
import { createRedisRateLimitStore } from './createRedisRateLimitStore.js'
import type { RateLimitStore } from './types.js'

/**
 * The rate-limit store one paywall (or one `rateLimit()`) uses, and how to let go of it: a
 * store object as it is; a `redis://` URL (the option, else `X402_REDIS_URL`) on the one
 * Redis client of the process for that URL, which every other store on it shares; else a
 * store in this process.
 *
 * @example
 * const { store, release } = openRateLimitStore(undefined, process.env)
 */
export function openRateLimitStore(
  option: RateLimitStore | string | undefined,
  env: Record<string, string | undefined>,
  name = 'stores.rateLimits',
): { store: RateLimitStore; release(): Promise<void> } {
  if (option && typeof option === 'object') return { store: option, release: async () => {} }
  const url = option ?? env.X402_REDIS_URL
  const from = option !== undefined ? name : 'X402_REDIS_URL'
  if (url === undefined || url === '') return { store: createMemoryRateLimitStore(), release: async () => {} }
  return openRedis(url, from)
}

// One store object per URL in a process (the outage is logged once per store), on the one
// Redis client of that URL that every other store shares (`openRedisClient`).
const shared = new Map<string, { store: RateLimitStore; users: number }>()

/** One shared Redis store for `url` (refused unless it is a `redis://` or `rediss://` URL). */
export function openRedis(url: string, from: string): { store: RateLimitStore; release(): Promise<void> } {
  if (!isRedisUrl(url)) {
    throw new X402Error('invalid_config', {
      message: `${from} is "${url}": give a Redis URL, e.g. redis://127.0.0.1:6379 (or leave it unset to count in this process)`,
      details: { option: from },
    })
  }
  let entry = shared.get(url)
  if (!entry) {
    entry = { store: createRedisRateLimitStore({ url }), users: 0 }
    shared.set(url, entry)
  }
  entry.users++
  const held = entry
  let released = false
  return {
    store: held.store,
    async release() {
      if (released) return
      released = true
      if (--held.users > 0) return
      if (shared.get(url) === held) shared.delete(url)
      await held.store.close()
    },
  }
}
