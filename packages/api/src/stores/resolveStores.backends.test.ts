import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import postgres from 'postgres'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { freshSchema, postgresUrlOrSkip, redisUrlOrSkip } from '../../../../test/helpers/services.js'
import { plans } from '../keys/plans.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { migrateOnStart } from '../postgres/schemas.js'

// The backends chosen by URL alone (issue 18): the same paywall options, with
// `stores.databaseUrl` / `stores.redisUrl` or the environment, put every store in
// PostgreSQL and Redis, as the rows and keys found there show.
const databaseUrl = await postgresUrlOrSkip()
const redisUrl = await redisUrlOrSkip()

const made: Paywall[] = []
const cleanups: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const paywall of made) await paywall.close()
  for (const cleanup of cleanups) await cleanup()
})

const make = (options: Record<string, unknown>) => {
  const paywall = createPaywall({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    reconcileIntervalMs: 0,
    price: 0.01,
    ...options,
  } as PaywallOptions)
  made.push(paywall)
  return paywall
}

const schemaFor = async () => {
  const schema = await freshSchema(databaseUrl as string)
  const sql = postgres(schema.url, { max: 1, onnotice: () => {} })
  cleanups.push(async () => {
    await sql.end({ timeout: 1 })
    await schema.drop()
  })
  return { url: schema.url, sql }
}

describe.skipIf(!databaseUrl)('stores on PostgreSQL, from stores.databaseUrl', () => {
  it('puts the ledger, credit, keys and usage there, and locks, proofs and counters too without Redis', async () => {
    const { url, sql } = await schemaFor()
    const paywall = make({
      stores: { databaseUrl: url },
      keys: { plans: [plans.free()] },
      free: { requests: 1, windowMs: 60_000, by: 'ip' },
    })
    expect(paywall.config.stores.backends.postgres).toEqual({ url, from: 'stores.databaseUrl' })
    const payment = newPayment()
    expect(await paywall.config.ledger.insert(payment)).toBe(true)
    expect(await sql`select id from x402_payments`).toEqual([{ id: payment.id }])
    await paywall.credits?.grant({ amount: 0.5, ref: 'g-pg' })
    expect((await sql`select kind, ref from x402_credit_transactions`).map((r) => r.ref)).toEqual(['g-pg'])
    const created = await paywall.keys?.create({ name: 'alice', plan: 'free' })
    expect((await sql`select id from x402_api_keys`).map((r) => r.id)).toEqual([created?.info.id])
    expect(await paywall.config.stores.locks.acquire('lock-1', 60_000)).toBe(true)
    expect((await sql`select count(*)::int as n from x402_locks`)[0]?.n).toBe(1)
    const twice = [await paywall.handle(new Request('http://127.0.0.1/x'), undefined, { ip: '10.0.0.9' })]
    twice.push(await paywall.handle(new Request('http://127.0.0.1/x'), undefined, { ip: '10.0.0.9' }))
    expect(twice.map((d) => d.type)).toEqual(['skip', 'respond'])
    expect((await sql`select count(*)::int as n from x402_counters`)[0]?.n).toBe(1)
    const versions = await sql`select component from x402_schema group by component order by component`
    expect(versions.map((r) => r.component)).toEqual(expect.arrayContaining(['credits', 'keys', 'ledger', 'usage']))
  })

  it('X402_DATABASE_URL does the same with no code change', async () => {
    const { url, sql } = await schemaFor()
    const saved = process.env.X402_DATABASE_URL
    process.env.X402_DATABASE_URL = url
    try {
      const paywall = make({})
      expect(paywall.config.stores.backends.postgres?.from).toBe('X402_DATABASE_URL')
      await paywall.config.ledger.insert(newPayment())
      expect((await sql`select count(*)::int as n from x402_payments`)[0]?.n).toBe(1)
    } finally {
      if (saved === undefined) delete process.env.X402_DATABASE_URL
      else process.env.X402_DATABASE_URL = saved
    }
  })
})

describe.skipIf(!databaseUrl)('a SQLite ledger in code beside a PostgreSQL URL', () => {
  it('keeps the ledger in the file as asked, and warns once that the stores are split', async () => {
    const { url } = await schemaFor()
    const dir = mkdtempSync(join(tmpdir(), '402x-split-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const paywall = make({ ledger: join(dir, 'ledger.db'), stores: { databaseUrl: url } })
      make({ ledger: join(dir, 'ledger.db'), stores: { databaseUrl: url } })
      expect(paywall.config.stores.backends.postgres).toEqual({ url, from: 'stores.databaseUrl' })
      const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('names PostgreSQL'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /ledger is the SQLite file .*ledger\.db, but stores\.databaseUrl names PostgreSQL: the ledger, credit, keys and usage stay in that file/,
      )
    } finally {
      warn.mockRestore()
    }
  })
})

describe.skipIf(!redisUrl)('with Redis and no PostgreSQL', () => {
  it('shares locks and limits on Redis, keeps the SQLite ledger, and warns once that it is per machine', async () => {
    const dir = mkdtempSync(join(tmpdir(), '402x-redis-only-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const paywall = make({ ledger: join(dir, 'ledger.db'), stores: { redisUrl } })
      make({ ledger: join(dir, 'ledger.db'), stores: { redisUrl } })
      expect(paywall.config.stores.backends).toMatchObject({ postgres: undefined, redis: { url: redisUrl } })
      const lines = warn.mock.calls
        .map((c) => String(c[0]))
        .filter((l) => l.includes('per machine') || l.includes('on this machine'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /stores\.redisUrl shares locks and limits on Redis, but the ledger is the SQLite file .*ledger\.db on this machine/,
      )
      const key = `redis-only-${randomUUID()}`
      expect(await paywall.config.stores.locks.acquire(key, 60_000)).toBe(true)
      const redis = new Redis(redisUrl as string)
      try {
        expect(await redis.exists(`402x:lock:{${key}}`)).toBe(1)
      } finally {
        redis.disconnect()
      }
      await paywall.config.stores.locks.release(key)
    } finally {
      warn.mockRestore()
    }
  })
})

describe.skipIf(!databaseUrl || !redisUrl)('with Redis beside PostgreSQL', () => {
  it('keeps locks, proofs, counters and rate limits on Redis, the ledger in PostgreSQL', async () => {
    const { url, sql } = await schemaFor()
    const paywall = make({ stores: { databaseUrl: url, redisUrl } })
    await migrateOnStart(url, 'stores.databaseUrl') // the run the paywall started: awaited, not repeated
    const key = `resolve-${randomUUID()}`
    expect(await paywall.config.stores.locks.acquire(key, 60_000)).toBe(true)
    const redis = new Redis(redisUrl as string)
    try {
      expect(await redis.exists(`402x:lock:{${key}}`)).toBe(1)
    } finally {
      redis.disconnect()
    }
    // Not in PostgreSQL: its lock table (migrated on start all the same) stays empty.
    expect((await sql`select count(*)::int as n from x402_locks`)[0]?.n).toBe(0)
    await paywall.config.stores.locks.release(key)
    await paywall.config.ledger.insert(newPayment())
    expect((await sql`select count(*)::int as n from x402_payments`)[0]?.n).toBe(1)
  })
})
