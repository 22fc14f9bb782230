import { describe, expect, it, vi } from 'vitest'
import { freshBackends, type OpenBackend } from '../stores/contract.fixture.js'
import type { StoreEvent } from '../webhooks/types.js'
import { createKeyLookup } from './createKeyLookup.js'
import { hashApiKey, looksLikeApiKey } from './generateApiKey.js'
import { plans } from './plans.js'
import type { KeyStore } from './types.js'

export type KeyStoreContractOptions = {
  /**
   * When `version()` moves on the handle that did not write: `at once` (it reads the backend's
   * own counter, SQLite's `data_version`), or `when notified` (a notification the writer sent
   * on commit, PostgreSQL's `LISTEN`), waited for here up to five seconds. The writer's own
   * handle moves at once either way.
   * @default 'at once'
   */
  otherHandleSees?: 'at once' | 'when notified'
}

/** The outbox the contract's events are written for: none of the stores' own. */
const contractOutbox = 'keystore-contract'
const revokedEvent = (id: string): StoreEvent => ({
  id: `evt_revoked_${id}`,
  type: 'key.revoked',
  timestamp: 1_700_000_000_000,
  data: { keyId: id },
  outbox: contractOutbox,
})

/** The `KeyStore` contract (`keys/types.ts`), run against one implementation. */
export function keyStoreContract(name: string, open: OpenBackend<KeyStore>, options: KeyStoreContractOptions = {}) {
  /** Checks what the other handle sees, at once or once its notification has arrived. */
  const otherSees = (check: () => void | Promise<void>) =>
    options.otherHandleSees === 'when notified' ? vi.waitFor(check, { timeout: 5_000, interval: 10 }) : check()

  describe(`KeyStore contract: ${name}`, () => {
    const fresh = freshBackends(open)

    it('returns the key once, stores only its hash, and finds it by hash on the other handle', async () => {
      const s = await fresh()
      const { key, record } = await s.a.create({ name: 'acme', plan: 'free', mode: 'test', owner: 'ops@acme.test' })
      expect(looksLikeApiKey(key)).toBe(true)
      expect(record).toMatchObject({ name: 'acme', plan: 'free', owner: 'ops@acme.test', hash: hashApiKey(key) })
      expect(record.id).toMatch(/^key_[0-9A-Za-z]{20}$/)
      expect(record.account).toBe(`key:${record.id}`)
      expect(record.start).toBe(key.slice(0, 14))
      expect(JSON.stringify(record)).not.toContain(key)
      expect(await s.b.findByHash(hashApiKey(key))).toEqual(record)
      expect(await s.b.get(record.id)).toEqual(record)
      // Another key, one character off (never the same one: a key may end in "x").
      const other = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`
      expect(await s.b.findByHash(hashApiKey(other))).toBeUndefined()
    })

    it('revokes once, seen at once on the other handle, and lists without revoked keys by default', async () => {
      const s = await fresh()
      const kept = await s.a.create({ name: 'kept', plan: 'free', mode: 'live', metadata: { team: 'x' } })
      const gone = await s.a.create({ name: 'gone', plan: 'pro', mode: 'live' })
      expect(await s.b.revoke(gone.record.id)).toBe(true)
      expect(await s.a.revoke(gone.record.id)).toBe(false)
      expect(await s.a.revoke('key_nope')).toBe(false)
      expect((await s.a.findByHash(gone.record.hash))?.revokedAt).toBeTypeOf('number')
      expect((await s.a.list()).map((r) => r.id)).toEqual([kept.record.id])
      expect((await s.a.list({ includeRevoked: true })).map((r) => r.name)).toEqual(['kept', 'gone'])
      expect((await s.b.list({ plan: 'pro', includeRevoked: true })).map((r) => r.name)).toEqual(['gone'])
      expect((await s.b.list())[0]?.metadata).toEqual({ team: 'x' })
    })

    it('revokes the keys a key minted (owned by key:<id> or mintedBy it, recursively) with it, and no others', async () => {
      const s = await fresh()
      const parent = await s.a.create({ name: 'leaked', plan: 'free', mode: 'live' })
      const child = await s.a.create({ name: 'minted', plan: 'free', mode: 'live', owner: `key:${parent.record.id}` })
      const grandchild = await s.b.create({
        name: 'minted2',
        plan: 'free',
        mode: 'live',
        owner: `key:${child.record.id}`,
      })
      // A key with an owner gives its minted keys that owner, and names itself in their metadata.
      const owned = await s.a.create({
        name: 'owned',
        plan: 'free',
        mode: 'live',
        owner: 'ops@acme.test',
        metadata: { source: 'portal', mintedBy: grandchild.record.id },
      })
      const gone = await s.a.create({ name: 'gone', plan: 'free', mode: 'live', owner: `key:${parent.record.id}` })
      await s.a.revoke(gone.record.id)
      const before = (await s.a.get(gone.record.id))?.revokedAt
      const stranger = await s.a.create({ name: 'stranger', plan: 'free', mode: 'live', owner: 'ops@acme.test' })
      const cousin = await s.a.create({
        name: 'cousin',
        plan: 'free',
        mode: 'live',
        owner: `key:${stranger.record.id}`,
      })
      const revoked: string[] = []
      expect(
        await s.b.revoke(parent.record.id, (record) => {
          revoked.push(record.id)
          expect(record.revokedAt).toBeTypeOf('number')
          return [revokedEvent(record.id)]
        }),
      ).toBe(true)
      // The key first, then what it minted; a key already revoked is neither revoked again nor reported.
      expect(revoked[0]).toBe(parent.record.id)
      expect(revoked.slice(1).sort()).toEqual([child.record.id, grandchild.record.id, owned.record.id].sort())
      for (const { record } of [parent, child, grandchild, owned])
        expect((await s.a.findByHash(record.hash))?.revokedAt).toBeTypeOf('number')
      expect((await s.a.get(gone.record.id))?.revokedAt).toBe(before)
      expect((await s.a.list()).map((r) => r.name).sort()).toEqual(['cousin', 'stranger'])
      expect(cousin.record.revokedAt).toBeUndefined()
      // A webhook event per key revoked, written with them.
      const events = (await s.b.webhookEvents?.take(contractOutbox, 100)) ?? []
      expect(events.map((e) => e.id).sort()).toEqual(revoked.map((id) => `evt_revoked_${id}`).sort())
    })

    it('revokes the minted keys still active on a second revoke, which answers false', async () => {
      const s = await fresh()
      const parent = await s.a.create({ name: 'leaked', plan: 'free', mode: 'live' })
      await s.a.revoke(parent.record.id)
      // Minted in a race with the revoke: the next revoke of the parent takes it too.
      const late = await s.a.create({ name: 'late', plan: 'free', mode: 'live', owner: `key:${parent.record.id}` })
      const revoked: string[] = []
      expect(
        await s.b.revoke(parent.record.id, (record) => {
          revoked.push(record.id)
          return []
        }),
      ).toBe(false)
      expect(revoked).toEqual([late.record.id])
      expect((await s.a.get(late.record.id))?.revokedAt).toBeTypeOf('number')
      // An array of events is written only with the key itself: nothing more to revoke, nothing written.
      expect(await s.b.revoke(parent.record.id, [revokedEvent('again')])).toBe(false)
      expect((await s.b.webhookEvents?.take(contractOutbox, 100)) ?? []).toEqual([])
    })

    it('moves version() after a write on either handle', async () => {
      const s = await fresh()
      const { record } = await s.a.create({ name: 'k', plan: 'free', mode: 'test' })
      const before = [s.a.version(), s.b.version()]
      await s.b.revoke(record.id)
      expect(s.b.version()).not.toBe(before[1])
      await otherSees(() => expect(s.a.version()).not.toBe(before[0]))
    })

    it('lets a key lookup in front of one handle refuse a key revoked on the other', async () => {
      const s = await fresh()
      const { key, record } = await s.a.create({ name: 'k', plan: 'free', mode: 'test' })
      const lookup = createKeyLookup(s.a, { plans: [plans.free()] })
      expect(await lookup.find(key)).toMatchObject({ ok: true, record: { id: record.id } })
      expect(await lookup.find(key)).toMatchObject({ ok: true })
      await s.b.revoke(record.id)
      // The lookup reads `version()` at most once per millisecond: each check waits past one.
      await otherSees(async () => {
        await new Promise((resolve) => setTimeout(resolve, 2))
        expect(await lookup.find(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
      })
    })

    it('gives every key its own id, hash and account', async () => {
      const s = await fresh()
      const created = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? s.b : s.a).create({ name: `k${i}`, plan: 'free', mode: 'test' })),
      )
      for (const field of ['id', 'hash', 'account'] as const)
        expect(new Set(created.map((c) => c.record[field])).size).toBe(50)
    })

    it('keeps expiry, and refuses an expiry in the past by name', async () => {
      const s = await fresh()
      const expiresAt = Date.now() + 60_000
      const { record } = await s.a.create({ name: 'k', plan: 'free', mode: 'test', expiresAt })
      expect((await s.b.get(record.id))?.expiresAt).toBe(expiresAt)
      await expect(s.a.create({ name: 'k', plan: 'free', mode: 'test', expiresAt: 1 })).rejects.toMatchObject({
        code: 'invalid_request',
        details: { field: 'expiresAt' },
      })
    })

    it('puts plans at run time, by name (a second put replaces), checked first', async () => {
      const s = await fresh()
      await s.a.putPlan(plans.tiered({ name: 'pro', monthly: 5000 }))
      await s.a.putPlan(plans.free())
      await s.b.putPlan(plans.tiered({ name: 'pro', monthly: 9000, overagePrice: '0.002' }))
      expect(await s.a.plans()).toEqual([
        plans.free(),
        plans.tiered({ name: 'pro', monthly: 9000, overagePrice: '0.002' }),
      ])
      await expect(s.a.putPlan({ ...plans.free(), quota: { month: -1 } })).rejects.toMatchObject({
        code: 'invalid_config',
      })
    })
  })
}
