import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { createKeyLookup } from './createKeyLookup.js'
import { createMemoryKeyStore } from './createMemoryKeyStore.js'
import { createSqliteKeyStore } from './createSqliteKeyStore.js'
import { plans } from './plans.js'
import type { KeyStore } from './types.js'

const dirs: string[] = []
const stores: KeyStore[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
const sqliteFile = () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-key-lookup-'))
  dirs.push(dir)
  return join(dir, 'ledger.db')
}
const open = (path: string) => {
  const store = createSqliteKeyStore({ path })
  stores.push(store)
  return store
}
/** A clock that moves a millisecond per read, so that every find reads the store's version. */
const ticking = (start = Date.now()) => {
  let t = start
  return () => t++
}

describe('createKeyLookup', () => {
  it('refuses at once a key revoked through another store object on the same file', async () => {
    const path = sqliteFile()
    const [mine, theirs] = [open(path), open(path)]
    const { key, record } = await mine.create({ name: 'acme', plan: 'free', mode: 'live' })
    const lookup = createKeyLookup(mine, { plans: [plans.free()], now: ticking() })
    expect(await lookup.find(key)).toMatchObject({ ok: true, record: { id: record.id }, plan: plans.free() })
    expect(await lookup.find(key)).toMatchObject({ ok: true })
    await theirs.revoke(record.id)
    const refused = await lookup.find(key)
    expect(refused).toMatchObject({ ok: false, reason: 'key_revoked' })
    expect(refused.ok || refused.message).toMatch(
      new RegExp(
        `^this API key \\(\`${record.id}\`\\) was revoked on \\d{4}-\\d\\d-\\d\\dT.*Z: ask the API for a new key$`,
      ),
    )
  })

  it('refuses at once a key revoked by another process', async () => {
    const path = sqliteFile()
    const mine = open(path)
    const { key, record } = await mine.create({ name: 'acme', plan: 'free', mode: 'live' })
    const lookup = createKeyLookup(mine, { plans: [plans.free()], now: ticking() })
    expect((await lookup.find(key)).ok).toBe(true)
    // The other process writes the file with a SQLite driver alone: a commit this one did not
    // make. better-sqlite3 where its native module loads for this Node, else node:sqlite (as the
    // stores choose, ledger/openSqlite.ts).
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    const script = `let db; try { const D = require(${JSON.stringify(driver)}); db = new D(process.argv[1]) }
      catch { const { DatabaseSync } = require('node:sqlite'); db = new DatabaseSync(process.argv[1]) }
      db.exec('PRAGMA busy_timeout = 5000'); db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(Date.now(), process.argv[2]); db.close()`
    await promisify(execFile)(process.execPath, ['-e', script, path, record.id], { timeout: 20_000 })
    expect(await lookup.find(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
  })

  it('refuses a key revoked in the same store object (memory)', async () => {
    const store = createMemoryKeyStore()
    const { key, record } = await store.create({ name: 'acme', plan: 'free', mode: 'test' })
    const lookup = createKeyLookup(store, { plans: [plans.free()], now: ticking() })
    expect((await lookup.find(key)).ok).toBe(true)
    await store.revoke(record.id)
    expect(await lookup.find(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
  })

  it('refuses a key from its expiry on, saying what to do', async () => {
    const start = Date.now()
    let now = start
    const store = open(sqliteFile())
    const { key, record } = await store.create({ name: 'k', plan: 'free', mode: 'test', expiresAt: start + 1000 })
    const lookup = createKeyLookup(store, { plans: [plans.free()], now: () => now })
    now = start + 999
    expect((await lookup.find(key)).ok).toBe(true)
    now = start + 1000
    expect(await lookup.find(key)).toEqual({
      ok: false,
      reason: 'key_expired',
      message: `this API key (\`${record.id}\`) expired on ${new Date(start + 1000).toISOString()}: ask the API for a new key, or to extend this one`,
    })
  })

  it('refuses malformed and unknown keys as invalid_key', async () => {
    const store = createMemoryKeyStore()
    const lookup = createKeyLookup(store, { plans: [plans.free()] })
    const { key } = await store.create({ name: 'k', plan: 'free', mode: 'test' })
    expect(await lookup.find('x402_test_short')).toEqual({
      ok: false,
      reason: 'invalid_key',
      message:
        'this is not an API key: a key is `x402_live_` or `x402_test_` and 32 letters and digits (42 characters); send it exactly as it was issued',
    })
    expect(await lookup.find(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`)).toEqual({
      ok: false,
      reason: 'invalid_key',
      message: 'this API key is not known: check that it was copied whole, or ask the API for a new key',
    })
  })

  it('finds plans put at run time, a plan in code first, and throws for a plan known nowhere', async () => {
    const store = open(sqliteFile())
    const lookup = createKeyLookup(store, { plans: [plans.free()], now: ticking() })
    const pro = await store.create({ name: 'p', plan: 'pro', mode: 'live' })
    await expect(lookup.find(pro.key)).rejects.toMatchObject({
      code: 'invalid_config',
      message: `key \`${pro.record.id}\` is on plan "pro", which is neither given in code (createKeyLookup's \`plans\`) nor put in the key store: add the plan, or move the key to a known one`,
    })
    await store.putPlan(plans.tiered({ name: 'pro', monthly: 5000 }))
    expect(await lookup.find(pro.key)).toMatchObject({ ok: true, plan: { name: 'pro', quota: { month: 5000 } } })
    await store.putPlan(plans.free({ quota: { month: 5 } }))
    const free = await store.create({ name: 'f', plan: 'free', mode: 'live' })
    expect(await lookup.find(free.key)).toMatchObject({ ok: true, plan: { quota: { month: 1000 } } })
  })

  it('answers findNow from the cache alone: nothing before the first find, then the key, and a refusal once forgotten', async () => {
    const store = open(sqliteFile())
    const { key, record } = await store.create({ name: 'k', plan: 'free', mode: 'test' })
    // A clock that never moves: only forget() makes the lookup read the store again.
    const lookup = createKeyLookup(store, { plans: [plans.free()], now: () => 1 })
    expect(lookup.findNow(key)).toBeUndefined()
    expect(lookup.findNow('x402_test_short')).toBeUndefined()
    expect((await lookup.find(key)).ok).toBe(true)
    expect(lookup.findNow(key)).toMatchObject({ ok: true, record: { id: record.id }, plan: plans.free() })
    await store.revoke(record.id)
    lookup.forget()
    expect(lookup.findNow(key)).toBeUndefined()
    expect(await lookup.find(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
    expect(lookup.findNow(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
  })

  it('answers findNow with a key’s expiry on, from the cache', async () => {
    let now = Date.now()
    const store = createMemoryKeyStore()
    const { key } = await store.create({ name: 'k', plan: 'free', mode: 'test', expiresAt: now + 1000 })
    const lookup = createKeyLookup(store, { plans: [plans.free()], now: () => now })
    expect((await lookup.find(key)).ok).toBe(true)
    now += 1000
    expect(lookup.findNow(key)).toMatchObject({ ok: false, reason: 'key_expired' })
  })

  it('lets findNow see a revoke by another store object on the file once findNowEveryMs has passed', async () => {
    const path = sqliteFile()
    const [mine, theirs] = [open(path), open(path)]
    const { key, record } = await mine.create({ name: 'k', plan: 'free', mode: 'test' })
    let now = Date.now()
    const lookup = createKeyLookup(mine, { plans: [plans.free()], now: () => now, findNowEveryMs: 5 })
    expect((await lookup.find(key)).ok).toBe(true)
    expect(lookup.findNow(key)).toMatchObject({ ok: true })
    await theirs.revoke(record.id)
    now += 5
    expect(lookup.findNow(key)).toBeUndefined()
    expect(await lookup.find(key)).toMatchObject({ ok: false, reason: 'key_revoked' })
  })
})
