import { Redis } from 'ioredis'

/**
 * Whether a service-backed test runs here: `X402_REQUIRE_SERVICES=1` (set by `.ci/run`) turns
 * a missing service into a failure; otherwise the reason is printed and the tests skip.
 */
export function skipOrFail(reason: string): undefined {
  if (process.env.X402_REQUIRE_SERVICES === '1')
    throw new Error(`${reason}, and X402_REQUIRE_SERVICES=1 requires it: start it, or unset X402_REQUIRE_SERVICES`)
  console.warn(`skipped: ${reason}`)
  return undefined
}

/**
 * The Redis of the tests (`X402_TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`), once
 * it answers a PING within a second; `undefined` (the tests skip) when it is down.
 *
 * @example
 * const redisUrl = await redisUrlOrSkip()
 * describe.skipIf(!redisUrl)('on Redis', () => { … })
 */
export async function redisUrlOrSkip(): Promise<string | undefined> {
  const url = process.env.X402_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0 })
  client.on('error', () => {}) // the PING below reports it
  try {
    await client.connect()
    await client.ping()
    return url
  } catch (error) {
    return skipOrFail(
      `Redis at X402_TEST_REDIS_URL=${url} is unreachable (set X402_TEST_REDIS_URL to another; ${(error as Error).message})`,
    )
  } finally {
    client.disconnect()
  }
}
