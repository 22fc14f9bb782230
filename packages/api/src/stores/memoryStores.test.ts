import { randomUUID } from 'node:crypto'
import { describe } from 'vitest'
import { redisUrlOrSkip } from '../../../../test/helpers/services.js'
import type { RedisStoreOptions } from '../redis/openRedisClient.js'
import { closeRedisClient, ownRedisClient } from '../redis/redisClient.js'
import { countersContract } from './counters.contract.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import { createRedisCounters } from './createRedisCounters.js'
import { createRedisLocks } from './createRedisLocks.js'
import { createRedisSpentProofs } from './createRedisSpentProofs.js'
import { locksContract } from './locks.contract.js'
import { spentProofsContract } from './spentProofs.contract.js'

// One process: both handles are the same object.
const same = <T>(store: T) => ({ a: store, b: store, close: async () => {} })

locksContract('memory', () => same(createMemoryLocks()))
spentProofsContract('memory', () => same(createMemorySpentProofs()))
countersContract('memory', () => same(createMemoryCounters()))

const redisUrl = await redisUrlOrSkip()
// One prefix per run, and one per case under it, so that parallel runs on one Redis never
// meet; every key is deleted after its case.
const runPrefix = `402x:test:${randomUUID().slice(0, 8)}:`

/** Two handles on two connections: one from the URL (the process's client), one given. */
const onRedis =
  <T extends { close(): Promise<void> }>(open: (options: RedisStoreOptions) => T) =>
  async () => {
    const prefix = `${runPrefix}${randomUUID().slice(0, 8)}:`
    const client = ownRedisClient(redisUrl as string)
    // Connected before the case starts: the short windows of the contract leave no room for it.
    await new Promise((resolve) => (client.status === 'ready' ? resolve(undefined) : client.once('ready', resolve)))
    const a = open({ url: redisUrl as string, prefix })
    const b = open({ client, prefix })
    return {
      a,
      b,
      async close() {
        await Promise.all([a.close(), b.close()])
        const keys = await client.keys(`${prefix}*`)
        if (keys.length) await client.del(...keys)
        await closeRedisClient(client)
      },
    }
  }

describe.skipIf(!redisUrl)('on Redis', () => {
  locksContract('Redis', onRedis(createRedisLocks))
  spentProofsContract('Redis', onRedis(createRedisSpentProofs))
  countersContract('Redis', onRedis(createRedisCounters))
})
