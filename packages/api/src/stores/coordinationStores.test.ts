import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { postgresUrlOrSkip, redisUrlOrSkip } from '../../../../test/helpers/services.js'
import type { RedisStoreOptions } from '../redis/openRedisClient.js'
import { closeRedisClient, ownRedisClient } from '../redis/redisClient.js'
import { countersContract } from './counters.contract.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import { createPostgresCounters } from './createPostgresCounters.js'
import { createPostgresLocks } from './createPostgresLocks.js'
import { createPostgresSpentProofs } from './createPostgresSpentProofs.js'
import { createRedisCounters } from './createRedisCounters.js'
import { createRedisLocks } from './createRedisLocks.js'
import { createRedisSpentProofs } from './createRedisSpentProofs.js'
import { locksContract } from './locks.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'
import { spentProofsContract } from './spentProofs.contract.js'

// One process: both handles are the same object.
const same = <T>(store: T) => ({ a: store, b: store, close: async () => {} })

locksContract('memory', () => same(createMemoryLocks()))
spentProofsContract('memory', () => same(createMemorySpentProofs()))
countersContract('memory', () => same(createMemoryCounters()))

// Two pools on one fresh schema: what two instances sharing the database (and no Redis) see.
const databaseUrl = await postgresUrlOrSkip()
describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
  const url = databaseUrl as string
  locksContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresLocks({ url: u })))
  spentProofsContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresSpentProofs({ url: u })))
  countersContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresCounters({ url: u })))

  it('lets an expired proof be spent again', async () => {
    const s = await postgresBackend(url, (u) => createPostgresSpentProofs({ url: u }))
    try {
      // Spent with an expiry already past (no waiting on a clock): it may be spent again, once.
      expect(await s.a.spend('0xabc:n1', Date.now() - 1)).toBe(true)
      expect(await s.b.spend('0xabc:n1', Date.now() + 60_000)).toBe(true)
      expect(await s.a.spend('0xabc:n1', Date.now() + 60_000)).toBe(false)
    } finally {
      await s.close()
    }
  })
})

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
