import { X402Error } from '@402x/core'
import type { Redis } from 'ioredis'
import { closeRedisClient, ownRedisClient } from './redisClient.js'

/** Clients opened from a URL, one per URL in a process, closed with its last user. */
const shared = new Map<string, { client: Redis; users: number }>()

/** Whether a setting is a Redis URL (`redis://` or `rediss://`). */
export const isRedisUrl = (value: string | undefined): value is string =>
  value !== undefined && /^rediss?:\/\/[^/]/i.test(value)

/**
 * One Redis client for `url`, shared by every store of the process that names the same URL
 * (rate limits, locks, spent proofs, counters: one connection), and how to let go of it (the
 * last `release` ends the client). The client fails fast while Redis is down and reconnects
 * by itself ({@link ownRedisClient}). `from` names the setting, for the refusal of a URL
 * that is not a Redis one.
 *
 * @example
 * const { client, release } = openRedisClient('redis://127.0.0.1:6379', 'X402_REDIS_URL')
 * const locks = createRedisLocks({ client })
 * await release()
 */
export function openRedisClient(url: string, from: string): { client: Redis; release(): Promise<void> } {
  if (!isRedisUrl(url)) {
    throw new X402Error('invalid_config', {
      message: `${from} is "${url}": give a Redis URL, e.g. redis://127.0.0.1:6379 (or leave it unset to keep this state in the process)`,
      details: { option: from },
    })
  }
  let entry = shared.get(url)
  if (!entry) {
    entry = { client: ownRedisClient(url), users: 0 }
    shared.set(url, entry)
  }
  entry.users++
  const held = entry
  let released = false
  return {
    client: held.client,
    async release() {
      if (released) return
      released = true
      if (--held.users > 0) return
      if (shared.get(url) === held) shared.delete(url)
      await closeRedisClient(held.client)
    },
  }
}

/** The options of a store on Redis: a URL (the process's client for it), or a client of yours. */
export type RedisStoreOptions = {
  /**
   * Prepended to every key, before the hash tag `{…}` that holds the key (Redis Cluster puts
   * each key's slot on it). Keep braces out of it.
   * @default '402x:<store>:', e.g. '402x:lock:'
   */
  prefix?: string
} & (
  | {
      /** The Redis to use, through the process's one client for this URL; `close()` lets go of it. */
      url: string
      client?: never
    }
  | {
      /** A client of yours, used as it is configured, and left open by `close()`. */
      client: Redis
      url?: never
    }
)

/** The client a store runs on, and how it lets go of it (nothing to do for a given client). */
export const storeClient = (options: RedisStoreOptions, from: string): { client: Redis; release(): Promise<void> } =>
  options.client ? { client: options.client, release: async () => {} } : openRedisClient(options.url, from)
