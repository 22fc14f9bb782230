import { X402Error } from '@402x/core'
import type { ConfigFile } from '../config/resolveConfig.js'
import { isPostgresUrl } from '../postgres/openPostgres.js'

/** A backend URL and where it came from (for messages). */
export type BackendUrl = { url: string; from: string }

/**
 * The two networked backends a paywall may be given, each from the first place that names
 * it: the code (`stores.databaseUrl`, `stores.redisUrl`), the environment
 * (`X402_DATABASE_URL`, `X402_REDIS_URL`), then `402x.config.json` (`databaseUrl`,
 * `redisUrl`). `database` is `undefined` unless it is a PostgreSQL URL: any other value of
 * `X402_DATABASE_URL` is the SQLite file of the ledger (`sqliteFile`).
 */
export type Backends = {
  /** PostgreSQL: the ledger of record, credit, keys and usage (and locks and limits without Redis). */
  postgres: BackendUrl | undefined
  /** Redis: locks, sign-in proofs, counters and rate limits, shared fast. */
  redis: BackendUrl | undefined
  /** A SQLite file named by `X402_DATABASE_URL` or `databaseUrl` (not a PostgreSQL URL). */
  sqliteFile: BackendUrl | undefined
}

const pick = (
  code: string | undefined,
  codeName: string,
  env: string | undefined,
  envName: string,
  file: string | undefined,
  fileName: string,
): BackendUrl | undefined =>
  code !== undefined && code !== ''
    ? { url: code, from: codeName }
    : env !== undefined && env !== ''
      ? { url: env, from: envName }
      : file !== undefined && file !== ''
        ? { url: file, from: `402x.config.json "${fileName}"` }
        : undefined

/** Where Redis goes, said beside where the database was given. */
const redisNameFor = (from: string) =>
  from === 'X402_DATABASE_URL' ? 'X402_REDIS_URL' : from === 'stores.databaseUrl' ? 'stores.redisUrl' : '"redisUrl"'

/**
 * Reads which backends the stores default to; refuses a `redis://` database, a Redis URL
 * that is not one, and a PostgreSQL URL given where Redis is asked for.
 *
 * @example
 * pickBackends({ databaseUrl: 'postgres://127.0.0.1/app' }, process.env)
 * // { postgres: { url: 'postgres://127.0.0.1/app', from: 'stores.databaseUrl' }, redis: undefined, sqliteFile: undefined }
 */
export function pickBackends(
  given: { databaseUrl?: string | undefined; redisUrl?: string | undefined },
  env: Record<string, string | undefined>,
  file?: ConfigFile,
): Backends {
  const database = pick(
    given.databaseUrl,
    'stores.databaseUrl',
    env.X402_DATABASE_URL,
    'X402_DATABASE_URL',
    file?.databaseUrl,
    'databaseUrl',
  )
  const redis = pick(
    given.redisUrl,
    'stores.redisUrl',
    env.X402_REDIS_URL,
    'X402_REDIS_URL',
    file?.redisUrl,
    'redisUrl',
  )
  if (database && /^rediss?:\/\//i.test(database.url)) {
    throw new X402Error('invalid_config', {
      message: `${database.from} is a Redis URL: give PostgreSQL there (postgres://user@host:5432/db) and Redis in ${redisNameFor(database.from)}`,
      details: { option: database.from },
    })
  }
  if (redis && !/^rediss?:\/\/[^/]/i.test(redis.url)) {
    throw new X402Error('invalid_config', {
      message: `${redis.from} is "${redis.url}": give a Redis URL, e.g. redis://127.0.0.1:6379 (or leave it unset to keep locks and limits in this process or in PostgreSQL)`,
      details: { option: redis.from },
    })
  }
  if (database && !isPostgresUrl(database.url) && /^[a-z][a-z0-9+.-]*:\/\//i.test(database.url)) {
    throw new X402Error('invalid_config', {
      message: `${database.from} is "${database.url}": give a PostgreSQL URL (postgres://…) or a SQLite file path`,
      details: { option: database.from },
    })
  }
  return {
    postgres: database && isPostgresUrl(database.url) ? database : undefined,
    redis,
    sqliteFile: database && !isPostgresUrl(database.url) ? database : undefined,
  }
}
