import { describe, expect, it } from 'vitest'
import { pickBackends } from './pickBackends.js'

describe('pickBackends: which backends the stores default to', () => {
  it('takes each URL from the code, else the environment, else 402x.config.json', () => {
    const file = { databaseUrl: 'postgres://file/db', redisUrl: 'redis://file:6379' }
    expect(pickBackends({}, {}, file)).toEqual({
      postgres: { url: 'postgres://file/db', from: '402x.config.json "databaseUrl"' },
      redis: { url: 'redis://file:6379', from: '402x.config.json "redisUrl"' },
      sqliteFile: undefined,
    })
    const env = { X402_DATABASE_URL: 'postgresql://env/db', X402_REDIS_URL: 'rediss://env:6380' }
    expect(pickBackends({}, env, file)).toMatchObject({
      postgres: { url: 'postgresql://env/db', from: 'X402_DATABASE_URL' },
      redis: { url: 'rediss://env:6380', from: 'X402_REDIS_URL' },
    })
    expect(pickBackends({ databaseUrl: 'postgres://code/db', redisUrl: 'redis://code:1' }, env, file)).toMatchObject({
      postgres: { from: 'stores.databaseUrl' },
      redis: { from: 'stores.redisUrl' },
    })
  })

  it('reads a database setting that is not a URL as the SQLite file of the ledger', () => {
    expect(pickBackends({}, { X402_DATABASE_URL: '/var/lib/402x/ledger.db' })).toEqual({
      postgres: undefined,
      redis: undefined,
      sqliteFile: { url: '/var/lib/402x/ledger.db', from: 'X402_DATABASE_URL' },
    })
    expect(pickBackends({}, {})).toEqual({ postgres: undefined, redis: undefined, sqliteFile: undefined })
  })

  it('refuses a URL of the wrong kind, naming where it came from', () => {
    expect(() => pickBackends({}, { X402_DATABASE_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /X402_DATABASE_URL is a Redis URL: give PostgreSQL there .* and Redis in X402_REDIS_URL/,
    )
    expect(() => pickBackends({ redisUrl: 'postgres://db/app' }, {})).toThrow(
      /stores\.redisUrl is "postgres:\/\/db\/app": give a Redis URL/,
    )
    expect(() => pickBackends({ databaseUrl: 'mysql://db/app' }, {})).toThrow(
      /stores\.databaseUrl is "mysql:\/\/db\/app": give a PostgreSQL URL/,
    )
  })
})
