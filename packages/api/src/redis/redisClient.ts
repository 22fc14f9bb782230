import { X402Error } from '@402x/core'
import { Redis } from 'ioredis'

/** What 402x knows of a client it opened: its first connection, and the last error it saw. */
type Owned = { connected: Promise<void>; up?: true; lastError?: Error }
const owned = new WeakMap<Redis, Owned>()

/**
 * A client that fails fast while Redis is down (no offline queue, one try per command, 1 s
 * command timeout), so that a store answers `store_unavailable` at once instead of hanging
 * a request, and that reconnects by itself.
 *
 * @example
 * const client = ownRedisClient('redis://127.0.0.1:6379')
 * await redisCall(client, rateLimitStore, () => client.ping())
 */
export function ownRedisClient(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  })
  const state: Owned = { connected: firstConnect(client) }
  void state.connected.then(() => {
    state.up = true
  })
  client.on('error', (error: Error) => {
    state.lastError = error
  })
  owned.set(client, state)
  return client
}

/**
 * Without an offline queue, a command sent before the first connection is up would fail:
 * the first calls wait for it (bounded by the connect timeout), later ones never wait.
 */
function firstConnect(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      client.off('ready', done).off('error', done).off('end', done)
      resolve()
    }
    const timer = setTimeout(done, 2_000)
    client.once('ready', done).once('error', done).once('end', done)
  })
}

/** Ends a client: politely when it is connected, at once when it is not. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
  else client.disconnect()
}

/** Where a client points, for messages: `host:port`, never the password. */
export const redisWhere = (client: Redis) => `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`

/** A store on Redis as its faults name it. */
export type RedisStoreName = {
  /** `details.store`, e.g. `redis-locks`. */
  store: string
  /** In the message: "the Redis <what> store". */
  what: string
  /** What happens until Redis answers again, for the message. */
  meanwhile: string
}

/**
 * Runs one Redis call for a store, turning any failure into {@link redisUnavailable}. The
 * first calls on a client 402x opened wait for its first connection.
 *
 * @example
 * const taken = await redisCall(client, name, () => client.set(key, token, 'PX', ttlMs, 'NX'))
 */
export function redisCall<T>(client: Redis, name: RedisStoreName, fn: () => Promise<T>): Promise<T> {
  const state = owned.get(client)
  // Once the first connection has been waited for, the command goes at once: no turn before it.
  if (state === undefined || state.up) {
    try {
      return fn().catch((cause) => {
        throw redisUnavailable(cause, client, name)
      })
    } catch (cause) {
      return Promise.reject(redisUnavailable(cause, client, name))
    }
  }
  return state.connected.then(() => redisCall(client, name, fn))
}

/**
 * The fault for a Redis call that could not be answered: `store_unavailable` (503,
 * retryable), naming the store, where it points and the last connection error seen.
 */
export function redisUnavailable(cause: unknown, client: Redis, name: RedisStoreName): X402Error {
  if (cause instanceof X402Error) return cause
  const at = redisWhere(client)
  const reason = (cause as Error)?.message ?? String(cause)
  const lastError = owned.get(client)?.lastError
  const seen = lastError && lastError.message !== reason ? ` (last connection error: ${lastError.message})` : ''
  return new X402Error('store_unavailable', {
    message:
      `the Redis ${name.what} store at ${at} could not answer: ${reason}${seen}. ` +
      `Check that Redis is running and reachable there; the client reconnects by itself, and until then ${name.meanwhile}.`,
    details: { store: name.store, at },
    cause,
  })
}
