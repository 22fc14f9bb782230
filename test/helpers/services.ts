import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import postgres from 'postgres'

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

/**
 * The PostgreSQL of the tests (`X402_TEST_DATABASE_URL`, by default
 * `postgres://127.0.0.1:5432/test`), once it answers within two seconds; `undefined` (the
 * tests skip) when it is down.
 *
 * @example
 * const databaseUrl = await postgresUrlOrSkip()
 * describe.skipIf(!databaseUrl)('on PostgreSQL', () => { … })
 */
export async function postgresUrlOrSkip(): Promise<string | undefined> {
  const url = process.env.X402_TEST_DATABASE_URL || 'postgres://127.0.0.1:5432/test'
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    await sql`select 1`
    return url
  } catch (error) {
    return skipOrFail(
      `PostgreSQL at X402_TEST_DATABASE_URL=${url} is unreachable (set X402_TEST_DATABASE_URL to another; ${(error as Error).message})`,
    )
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/**
 * A schema of its own for one test (or one test file) in the tests' database: the URL
 * returned puts every table there (`?search_path=`), and `drop()` removes it and all it
 * holds. Tests that share a database never see each other's rows.
 *
 * @example
 * const { url, drop } = await freshSchema(databaseUrl)
 * const ledger = createPostgresLedger({ url })
 * …
 * await drop()
 */
export async function freshSchema(baseUrl: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create schema ${schema}`)
  } finally {
    await admin.end({ timeout: 1 })
  }
  const url = new URL(baseUrl)
  url.searchParams.set('search_path', schema)
  return {
    url: url.toString(),
    schema,
    async drop() {
      const sql = postgres(baseUrl, { max: 1, onnotice: () => {} })
      try {
        await sql.unsafe(`drop schema if exists ${schema} cascade`)
      } finally {
        await sql.end({ timeout: 1 })
      }
    },
  }
}
