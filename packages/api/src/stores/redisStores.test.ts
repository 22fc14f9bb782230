import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasRedisServer, startRedisServer } from '../../../../test/helpers/redisServer.js'
import { redisUrlOrSkip, skipOrFail } from '../../../../test/helpers/services.js'
import { sleep } from './contract.fixture.js'
import { createRedisCounters } from './createRedisCounters.js'
import { createRedisLocks } from './createRedisLocks.js'
import { createRedisSpentProofs } from './createRedisSpentProofs.js'

// What the contracts (memoryStores.test.ts) do not say: whose lock a release frees, the keys
// in Redis, and a Redis that is down.
const redisUrl = await redisUrlOrSkip()
const runPrefix = `402x:test:${randomUUID().slice(0, 8)}:`
const redisServer = hasRedisServer() || skipOrFail('redis-server is not on the PATH (apt-get install redis-server)')

describe.skipIf(!redisUrl)('the Redis stores', () => {
  let admin: Redis
  beforeAll(() => {
    admin = new Redis(redisUrl as string)
  })
  afterAll(async () => {
    const keys = await admin.keys(`${runPrefix}*`)
    if (keys.length) await admin.del(...keys)
    await admin.quit()
  })

  it("a holder's late release, after its lock expired and another took it, frees nothing", async () => {
    const options = { url: redisUrl as string, prefix: `${runPrefix}owner:` }
    const first = createRedisLocks(options)
    const second = createRedisLocks(options)
    try {
      expect(await first.acquire('k', 30)).toBe(true)
      await sleep(80)
      expect(await second.acquire('k', 60_000)).toBe(true)
      await first.release('k') // late: the lock is the second holder's now
      expect(await first.acquire('k', 60_000)).toBe(false)
      await second.release('k')
      expect(await first.acquire('k', 60_000)).toBe(true)
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })

  it('keeps one hash-tagged key per lock, proof and counter, each expiring with what it holds', async () => {
    const prefix = `${runPrefix}keys:`
    const locks = createRedisLocks({ url: redisUrl as string, prefix: `${prefix}lock:` })
    const proofs = createRedisSpentProofs({ url: redisUrl as string, prefix: `${prefix}proof:` })
    const counters = createRedisCounters({ url: redisUrl as string, prefix: `${prefix}count:` })
    try {
      expect(await locks.acquire('eip155:8453:0xa:0xp:0xn', 10_000)).toBe(true)
      expect(await proofs.spend('0xabc:n1', Date.now() + 20_000)).toBe(true)
      const taken = await counters.take('free:1.2.3.4', 1, 5, 30_000)
      const keys = (await admin.keys(`${prefix}*`)).sort()
      expect(keys).toEqual([
        `${prefix}count:{free:1.2.3.4}`,
        `${prefix}lock:{eip155:8453:0xa:0xp:0xn}`,
        `${prefix}proof:{0xabc:n1}`,
      ])
      const [count, lock, proof] = await Promise.all(keys.map((key) => admin.pttl(key)))
      expect(count).toBeGreaterThan(20_000)
      expect(count).toBeLessThanOrEqual(30_000)
      expect(lock).toBeGreaterThan(0)
      expect(lock).toBeLessThanOrEqual(10_000)
      expect(proof).toBeGreaterThan(10_000)
      expect(proof).toBeLessThanOrEqual(20_000)
      // The counter's key expires when its window ends, the resetAt it answered.
      expect(Number(await admin.pexpiretime(keys[0] as string))).toBe(taken.resetAt)
    } finally {
      await Promise.all([locks.close(), proofs.close(), counters.close()])
    }
  })

  it('prefixes every key with 402x: by default', async () => {
    const key = `test:${randomUUID()}`
    const locks = createRedisLocks({ url: redisUrl as string })
    const proofs = createRedisSpentProofs({ url: redisUrl as string })
    const counters = createRedisCounters({ url: redisUrl as string })
    const made = [`402x:lock:{${key}}`, `402x:proof:{${key}}`, `402x:count:{${key}}`]
    try {
      await locks.acquire(key, 60_000)
      await proofs.spend(key, Date.now() + 60_000)
      await counters.take(key, 1, 1, 60_000)
      expect(await admin.exists(...made)).toBe(3)
    } finally {
      await admin.del(...made)
      await Promise.all([locks.close(), proofs.close(), counters.close()])
    }
  })
})

describe.skipIf(!redisServer)('the Redis stores when Redis is down', () => {
  it('reject each call with store_unavailable, saying what to do, and answer again when it is back', async () => {
    const server = await startRedisServer()
    const locks = createRedisLocks({ url: server.url })
    const proofs = createRedisSpentProofs({ url: server.url })
    const counters = createRedisCounters({ url: server.url })
    const calls = [
      () => locks.acquire('k', 60_000),
      () => proofs.spend('k', Date.now() + 60_000),
      () => counters.take('k', 1, 5, 60_000),
    ]
    try {
      expect(await locks.acquire('warm', 60_000)).toBe(true)
      await server.stop()
      for (const [i, call] of calls.entries()) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(X402Error)
        expect(error).toMatchObject({
          code: 'store_unavailable',
          status: 503,
          retryable: true,
          details: { store: ['redis-locks', 'redis-spent-proofs', 'redis-counters'][i] },
        })
        expect((error as X402Error).message).toMatch(/could not answer.*Check that Redis is running/)
      }
      await server.start()
      // The client reconnects by itself; a new server has no scripts (EVALSHA falls back to EVAL).
      let back: unknown
      for (let i = 0; i < 50 && back === undefined; i++) {
        back = await counters.take('k', 1, 5, 60_000).catch(() => undefined)
        if (back === undefined) await sleep(200)
      }
      expect(back).toMatchObject({ ok: true, remaining: 4 })
      expect(await locks.acquire('k', 60_000)).toBe(true)
      expect(await proofs.spend('k', Date.now() + 60_000)).toBe(true)
    } finally {
      await Promise.all([locks.close(), proofs.close(), counters.close()])
      await server.stop()
    }
  })
})
