import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisUrlOrSkip } from '../../../../test/helpers/services.js'
import { closeRedisClient, ownRedisClient } from '../redis/redisClient.js'
import { sleep } from '../stores/contract.fixture.js'
import { createRedisRateLimitStore } from './createRedisRateLimitStore.js'
import { rateLimitStoreContract } from './rateLimitStore.contract.js'

const redisUrl = await redisUrlOrSkip()
// One prefix per run, so that parallel runs on one Redis never meet; every key is deleted after.
const runPrefix = `402x:rl:test:${randomUUID().slice(0, 8)}:`

describe.skipIf(!redisUrl)('createRedisRateLimitStore', () => {
  let admin: Redis
  beforeAll(() => {
    admin = new Redis(redisUrl!)
  })
  afterAll(async () => {
    const keys = await admin.keys(`${runPrefix}*`)
    if (keys.length) await admin.del(...keys)
    await admin.quit()
  })
  const redisClock = {
    async now() {
      const [seconds, micros] = await admin.time()
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    },
    async wait(ms: number) {
      await sleep(ms)
    },
    slackMs: 15,
  }

  rateLimitStoreContract(
    'Redis (two clients)',
    () => {
      const prefix = `${runPrefix}${randomUUID().slice(0, 8)}:`
      // Stores on one URL share the process's client: b gets a connection of its own.
      const client = ownRedisClient(redisUrl!)
      const a = createRedisRateLimitStore({ url: redisUrl!, prefix })
      const b = createRedisRateLimitStore({ client, prefix })
      return {
        a,
        b,
        async close() {
          await Promise.all([a.close(), b.close()])
          await closeRedisClient(client)
        },
      }
    },
    redisClock,
  )

  it('keeps one hash-tagged key per decision, each with a TTL', async () => {
    const prefix = `${runPrefix}keys:`
    const store = createRedisRateLimitStore({ url: redisUrl!, prefix })
    try {
      await store.consume('0xabc', 1, { algorithm: 'sliding-window', limit: 5, windowMs: 60_000 })
      await store.consume('0xabc', 1, { algorithm: 'fixed-window', limit: 5, windowMs: 60_000 })
      await store.consume('0xabc', 1, { algorithm: 'token-bucket', capacity: 5, refillPerSecond: 1 })
      const keys = (await admin.keys(`${prefix}*`)).sort()
      expect(keys).toEqual([`${prefix}{0xabc}:fw:60000`, `${prefix}{0xabc}:sw:60000`, `${prefix}{0xabc}:tb`])
      const ttls = await Promise.all(keys.map((key) => admin.pttl(key)))
      expect(ttls[0]).toBeGreaterThan(0)
      expect(ttls[0]).toBeLessThanOrEqual(60_000) // fixed: until its window ends
      expect(ttls[1]).toBeGreaterThan(60_000)
      expect(ttls[1]).toBeLessThanOrEqual(120_000) // sliding: until the next window ends
      expect(ttls[2]).toBeGreaterThan(0)
      expect(ttls[2]).toBeLessThanOrEqual(1_000) // bucket: until it is full again
    } finally {
      await store.close()
    }
  })

  it('uses a client it is given, and leaves it open', async () => {
    const client = new Redis(redisUrl!)
    try {
      const store = createRedisRateLimitStore({ client, prefix: `${runPrefix}given:` })
      const policy = { algorithm: 'fixed-window', limit: 1, windowMs: 60_000 } as const
      expect((await store.consume('k', 1, policy)).ok).toBe(true)
      await store.close()
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })
})
