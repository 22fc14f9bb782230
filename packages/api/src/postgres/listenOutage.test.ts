// A revoke on one instance stops the key (and the credit token) on every other, also after
// the other's LISTEN connection was cut: the caches in front of the PostgreSQL stores trust
// version() only while the store's own heartbeat comes back (postgres/heartbeat.ts), so
// while postgres.js re-listens (a backoff of up to 20 s) they read the database again.
import { describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { startTcpProxy } from '../../../../test/helpers/tcpProxy.js'
import { createPostgresCreditStore } from '../credits/createPostgresCreditStore.js'
import { createCreditService } from '../credits/creditService.js'
import { createKeyLookup } from '../keys/createKeyLookup.js'
import { createPostgresKeyStore } from '../keys/createPostgresKeyStore.js'
import { plans } from '../keys/plans.js'

const databaseUrl = await postgresUrlOrSkip()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `fn`'s answer once the store answers again (store_unavailable retried for up to 5 s). */
async function answered<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5_000
  for (;;) {
    try {
      return await fn()
    } catch (error) {
      if ((error as { code?: string }).code !== 'store_unavailable' || Date.now() > deadline) throw error
      await sleep(100)
    }
  }
}

describe.skipIf(!databaseUrl)('LISTEN outage window', () => {
  it('a key revoked on instance A is refused by instance B once the database is back (B listened through a blip)', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const proxy = await startTcpProxy(5432)
    const viaProxy = schema.url.replace(':5432/', `:${proxy.port}/`) + '&application_name=402x-review-b'
    const a = createPostgresKeyStore({ url: `${schema.url}&application_name=402x-review-a` })
    const b = createPostgresKeyStore({ url: viaProxy })
    try {
      const { key, record } = await a.create({ name: 'k', plan: 'free', mode: 'live' })
      const lookupB = createKeyLookup(b, { plans: [plans.free()] })
      // B caches the key (its plan may be unknown: we look at the reason only).
      const first = await lookupB.find(key)
      expect(first.ok).toBe(true)
      // (The first lookup started B listening, which moved version(): settle the cache once more.)
      await sleep(5)
      expect((await lookupB.find(key)).ok).toBe(true)
      await sleep(5)
      expect((await lookupB.find(key)).ok).toBe(true)
      // A 12 s outage of B's path to the database: its LISTEN retries back off.
      await proxy.cut()
      await sleep(12_000)
      await proxy.restore()
      // The database is reachable again from B: its pool answers (the first call after the
      // outage may still meet a connection attempt made during it: 503, retried).
      expect((await answered(() => b.get(record.id)))?.id).toBe(record.id)
      // A revokes; B's store reads it as revoked...
      expect(await a.revoke(record.id)).toBe(true)
      expect((await b.get(record.id))?.revokedAt).toBeDefined()
      await sleep(200)
      // ...and so does B's lookup: its cache is not trusted while its LISTEN is not proven live.
      const after = await lookupB.find(key)
      expect((after as { reason?: string }).reason).toBe('key_revoked')
    } finally {
      await a.close()
      await b.close()
      await proxy.close()
      await schema.drop()
    }
  }, 60_000)

  it('a credit token revoked on instance A stops working on instance B once the database is back', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const proxy = await startTcpProxy(5432)
    const viaProxy = schema.url.replace(':5432/', `:${proxy.port}/`) + '&application_name=402x-review-cb'
    const a = createCreditService({
      store: createPostgresCreditStore({ url: `${schema.url}&application_name=402x-review-ca` }),
    })
    const b = createCreditService({ store: createPostgresCreditStore({ url: viaProxy }) })
    try {
      const { account, token } = await a.open()
      await a.grant(account, 1_000n, 'g1')
      expect(await b.accountFor(token)).toBe(account)
      await b.hold(account, 1n).then((h) => 'account' in h && b.drop(h))
      // Settle B's caches (its first reads started it listening, which moved version()).
      await sleep(5)
      expect(await b.accountFor(token)).toBe(account)
      await b.hold(account, 1n).then((h) => 'account' in h && b.drop(h))
      await sleep(5)
      const warm = b.holdNow(token, 1n)
      expect(warm && 'account' in warm).toBe(true)
      if (warm && 'account' in warm) b.drop(warm)
      await proxy.cut()
      await sleep(12_000)
      await proxy.restore()
      expect((await answered(() => b.balance(account))).available).toBe(1_000n)
      expect(await a.revoke(token)).toBe(true)
      await sleep(200)
      // Revoked everywhere: B must not spend through it.
      expect(b.holdNow(token, 1n)).toBeUndefined()
      expect(await b.accountFor(token)).toBeUndefined()
    } finally {
      await a.close()
      await b.close()
      await proxy.close()
      await schema.drop()
    }
  }, 60_000)

  it('a key revoked while the listener is stalled (nothing tells it) is never honoured from the cache', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const proxy = await startTcpProxy(5432)
    const viaProxy = `${schema.url.replace(':5432/', `:${proxy.port}/`)}&application_name=402x-stall-b`
    const a = createPostgresKeyStore({ url: `${schema.url}&application_name=402x-stall-a` })
    const b = createPostgresKeyStore({ url: viaProxy })
    try {
      const { key, record } = await a.create({ name: 'k', plan: 'free', mode: 'live' })
      const lookupB = createKeyLookup(b, { plans: [plans.free()] })
      expect((await lookupB.find(key)).ok).toBe(true)
      await sleep(1_500) // its heartbeat is heard: the cache is trusted
      expect((await lookupB.find(key)).ok).toBe(true)
      proxy.freeze()
      expect(await a.revoke(record.id)).toBe(true)
      // Past the heartbeat's 3 s: B no longer trusts its cache, and cannot read the database.
      await sleep(4_000)
      const after = await lookupB.find(key).then(
        (found) => found,
        (error: { code?: string }) => ({ ok: false as const, reason: error.code }),
      )
      expect(after.ok).toBe(false)
      proxy.thaw()
      const revoked = await answered(() => lookupB.find(key))
      expect((revoked as { reason?: string }).reason).toBe('key_revoked')
    } finally {
      proxy.thaw()
      await a.close()
      await b.close()
      await proxy.close()
      await schema.drop()
    }
  }, 60_000)
})
