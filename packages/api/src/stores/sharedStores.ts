import { createPostgresRateLimitStore } from '../ratelimit/createPostgresRateLimitStore.js'
import type { RateLimitStore } from '../ratelimit/types.js'
import { openRedisClient } from '../redis/openRedisClient.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import { createPostgresCounters } from './createPostgresCounters.js'
import { createPostgresLocks } from './createPostgresLocks.js'
import { createPostgresSpentProofs } from './createPostgresSpentProofs.js'
import { createRedisCounters } from './createRedisCounters.js'
import { createRedisLocks } from './createRedisLocks.js'
import { createRedisSpentProofs } from './createRedisSpentProofs.js'
import type { Backends } from './pickBackends.js'
import type { Counters, Locks, SpentProofs, StoresOptions } from './types.js'

/** The stores every instance must share at once: in-flight locks, sign-in proofs, counters. */
export type SharedStores = {
  locks: Locks
  spentProofs: SpentProofs
  counters: Counters
  /** Rate-limit counts on PostgreSQL when there is no Redis (Redis ones open apart). */
  rateLimits: RateLimitStore | undefined
  release(): Promise<void>
}

/**
 * The shared fast state, on the fastest backend there is: Redis (one client for all of
 * them), else PostgreSQL, else this process (one instance). A store object given in the
 * options is used as it is.
 *
 * @example
 * const shared = sharedStores(pickBackends({ redisUrl: 'redis://127.0.0.1:6379' }, {}), {}, undefined)
 */
export function sharedStores(backends: Backends, given: StoresOptions, locks: Locks | undefined): SharedStores {
  const closers: (() => Promise<void>)[] = []
  const release = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {})
  }
  if (backends.redis) {
    const redis = openRedisClient(backends.redis.url, backends.redis.from)
    closers.push(redis.release)
    const client = redis.client
    return {
      locks: locks ?? createRedisLocks({ client }),
      spentProofs: given.spentProofs ?? createRedisSpentProofs({ client }),
      counters: given.counters ?? createRedisCounters({ client }),
      rateLimits: undefined,
      release,
    }
  }
  if (backends.postgres) {
    const url = backends.postgres.url
    const opened = <T extends { close(): Promise<void> }>(store: T): T => {
      closers.push(() => store.close())
      return store
    }
    return {
      locks: locks ?? opened(createPostgresLocks({ url })),
      spentProofs: given.spentProofs ?? opened(createPostgresSpentProofs({ url })),
      counters: given.counters ?? opened(createPostgresCounters({ url })),
      rateLimits: given.rateLimits === undefined ? opened(createPostgresRateLimitStore({ url })) : undefined,
      release,
    }
  }
  return {
    locks: locks ?? createMemoryLocks(),
    spentProofs: given.spentProofs ?? createMemorySpentProofs(),
    counters: given.counters ?? createMemoryCounters(),
    rateLimits: undefined,
    release,
  }
}
