import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { hasRedisServer, startRedisServer } from '../../../../test/helpers/redisServer.js'
import { skipOrFail } from '../../../../test/helpers/services.js'
import { openRateLimitStore } from '../ratelimit/openRateLimitStore.js'
import { sleep } from '../stores/contract.fixture.js'
import { createRedisCounters } from '../stores/createRedisCounters.js'
import { createRedisLocks } from '../stores/createRedisLocks.js'
import { createRedisSpentProofs } from '../stores/createRedisSpentProofs.js'
import { openRedisClient } from './openRedisClient.js'

const redisServer = hasRedisServer() || skipOrFail('redis-server is not on the PATH (apt-get install redis-server)')

/** The connections the server has, less the one asking. */
const connections = async (admin: Redis) =>
  String(await admin.client('LIST'))
    .trim()
    .split('\n').length - 1

/** Waits (bounded) until the server counts `n` other connections. */
async function untilConnections(admin: Redis, n: number) {
  for (let i = 0; i < 50 && (await connections(admin)) !== n; i++) await sleep(50)
  return connections(admin)
}

describe('openRedisClient', () => {
  it('refuses a setting that is not a Redis URL, naming it', () => {
    expect(() => openRedisClient('postgres://db:5432/app', 'X402_REDIS_URL')).toThrow(
      'X402_REDIS_URL is "postgres://db:5432/app": give a Redis URL',
    )
  })

  it.skipIf(!redisServer)(
    'opens one connection per URL for every store of the process, closed with its last user',
    async () => {
      const server = await startRedisServer()
      const admin = new Redis(server.url)
      try {
        const rateLimits = openRateLimitStore(server.url, {})
        const locks = createRedisLocks({ url: server.url })
        const counters = createRedisCounters({ url: server.url })
        const proofs = createRedisSpentProofs({ url: server.url })
        await rateLimits.store.consume('k', 1, { algorithm: 'fixed-window', limit: 5, windowMs: 60_000 })
        expect(await locks.acquire('k', 60_000)).toBe(true)
        expect((await counters.take('k', 1, 5, 60_000)).ok).toBe(true)
        expect(await proofs.spend('k', Date.now() + 60_000)).toBe(true)
        expect(await connections(admin)).toBe(1)

        const { client, release } = openRedisClient(server.url, 'test')
        expect(await client.ping()).toBe('PONG') // the same client, already connected
        expect(await connections(admin)).toBe(1)
        await release()
        await release() // twice is once
        await Promise.all([rateLimits.release(), locks.close(), counters.close()])
        expect(await proofs.spend('k2', Date.now() + 60_000)).toBe(true) // still one user left
        await proofs.close()
        expect(await untilConnections(admin, 0)).toBe(0)

        // Opened again after: a new client, which a store given it waits for.
        const again = openRedisClient(server.url, 'test')
        expect(await createRedisLocks({ client: again.client }).acquire('k3', 60_000)).toBe(true)
        expect(await connections(admin)).toBe(1)
        await again.release()
        expect(await untilConnections(admin, 0)).toBe(0)
      } finally {
        admin.disconnect()
        await server.stop()
      }
    },
  )
})
