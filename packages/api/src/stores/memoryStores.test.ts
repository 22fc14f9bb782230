import { describe, expect, it } from 'vitest'
import { postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { countersContract } from './counters.contract.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import { createPostgresCounters } from './createPostgresCounters.js'
import { createPostgresLocks } from './createPostgresLocks.js'
import { createPostgresSpentProofs } from './createPostgresSpentProofs.js'
import { locksContract } from './locks.contract.js'
import { postgresBackend } from './postgresBackend.fixture.js'
import { spentProofsContract } from './spentProofs.contract.js'

// One process: both handles are the same object.
const same = <T>(store: T) => ({ a: store, b: store, close: async () => {} })

locksContract('memory', () => same(createMemoryLocks()))
spentProofsContract('memory', () => same(createMemorySpentProofs()))
countersContract('memory', () => same(createMemoryCounters()))

// Two pools on one fresh schema: what two instances sharing the database (and no Redis) see.
const databaseUrl = await postgresUrlOrSkip()
describe.skipIf(!databaseUrl)('on PostgreSQL', () => {
  const url = databaseUrl as string
  locksContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresLocks({ url: u })))
  spentProofsContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresSpentProofs({ url: u })))
  countersContract('PostgreSQL', () => postgresBackend(url, (u) => createPostgresCounters({ url: u })))

  it('lets an expired proof be spent again', async () => {
    const s = await postgresBackend(url, (u) => createPostgresSpentProofs({ url: u }))
    try {
      // Spent with an expiry already past (no waiting on a clock): it may be spent again, once.
      expect(await s.a.spend('0xabc:n1', Date.now() - 1)).toBe(true)
      expect(await s.b.spend('0xabc:n1', Date.now() + 60_000)).toBe(true)
      expect(await s.a.spend('0xabc:n1', Date.now() + 60_000)).toBe(false)
    } finally {
      await s.close()
    }
  })
})
