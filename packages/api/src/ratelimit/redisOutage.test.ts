import { X402Error } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { hasRedisServer, startRedisServer } from '../../../../test/helpers/redisServer.js'
import { skipOrFail } from '../../../../test/helpers/services.js'
import { sleep } from '../stores/contract.fixture.js'
import { createRedisRateLimitStore } from './createRedisRateLimitStore.js'
import type { RateLimitStore, RatePolicy } from './types.js'

const redisServer = hasRedisServer() || skipOrFail('redis-server is not on the PATH (apt-get install redis-server)')
const policy: RatePolicy = { algorithm: 'sliding-window', limit: 1_000, windowMs: 60_000 }

/** Consumes until one succeeds: the store's client reconnects by itself, within a bound. */
async function untilAnswered(store: RateLimitStore, boundMs: number) {
  const deadline = Date.now() + boundMs
  for (;;) {
    try {
      return await store.consume('k', 1, policy)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(100)
    }
  }
}

describe.skipIf(!redisServer)('createRedisRateLimitStore when Redis goes away', () => {
  it('rejects with store_unavailable while Redis is down, and answers again when it is back', async () => {
    const server = await startRedisServer()
    const store = createRedisRateLimitStore({ url: server.url })
    try {
      expect(await store.consume('k', 1, policy)).toMatchObject({ ok: true, remaining: 999 })
      await server.stop()
      // Each call while it is down fails at once (no offline queue), with what to do.
      for (let i = 0; i < 3; i++) {
        const error = await store.consume('k', 1, policy).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(X402Error)
        expect(error).toMatchObject({ code: 'store_unavailable', status: 503, retryable: true })
        expect((error as X402Error).message).toMatch(/could not answer.*Check that Redis is running/)
      }
      // The same port again: a new, empty server, without the script (EVALSHA falls back to EVAL).
      await server.start()
      expect(await untilAnswered(store, 10_000)).toMatchObject({ ok: true, remaining: 999 })
      expect(await store.consume('k', 1, policy)).toMatchObject({ ok: true, remaining: 998 })
    } finally {
      await store.close()
      await server.stop()
    }
  })

  it('does not wait for a Redis that was never there', async () => {
    const server = await startRedisServer()
    const { url } = server
    await server.stop() // a port nobody listens on
    const store = createRedisRateLimitStore({ url })
    try {
      await expect(store.consume('k', 1, policy)).rejects.toMatchObject({ code: 'store_unavailable' })
    } finally {
      await store.close()
    }
  })
})
