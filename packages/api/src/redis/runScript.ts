import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/** A Lua script and its SHA-1, the name `EVALSHA` runs it by. */
export type RedisScript = { lua: string; sha: string }

/** @example const release = redisScript("if redis.call('GET', KEYS[1]) == ARGV[1] then … end") */
export const redisScript = (lua: string): RedisScript => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

/**
 * Runs a script in one round trip: `EVALSHA`, and `EVAL` when this server does not have it
 * yet (a new or restarted Redis), which loads it for the next `EVALSHA`. Every key the
 * script touches is in `keys`, so that Redis Cluster routes it.
 *
 * @example
 * const [ok] = (await runScript(client, fixedWindow, [key], [cost, limit, windowMs])) as number[]
 */
export function runScript(
  client: Redis,
  script: RedisScript,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: Error) => {
    if (!error.message.startsWith('NOSCRIPT')) throw error
    return client.eval(script.lua, keys.length, ...keys, ...args)
  })
}
