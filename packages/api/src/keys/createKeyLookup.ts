import { X402Error } from '@402x/core'
import { hashApiKey, looksLikeApiKey } from './generateApiKey.js'
import type { ApiKeyRecord, KeyLookup, KeyLookupResult, KeyStore, PlanDefinition } from './types.js'

export type KeyLookupOptions = {
  /**
   * Plans given in code (`plans.free()` …); a plan of the same name put in the store at run
   * time is not used.
   * @default []
   */
  plans?: PlanDefinition[]
  /**
   * The clock (ms epoch): key expiry, and how often `store.version()` is read (at most once
   * per millisecond of it).
   * @default Date.now
   */
  now?: () => number
  /**
   * Keys kept in the cache; past it the cache starts again empty.
   * @default 10000
   */
  maxCached?: number
  /**
   * How often `findNow` reads `store.version()`, in ms of the clock: the bound on how long a
   * key revoked by another process (another connection to the file, another instance) can still
   * be served from the cache. A SQLite store's read costs a read transaction (several µs), too
   * much for every millisecond of a busy hot path; `find` still reads it every millisecond.
   * @default 5
   */
  findNowEveryMs?: number
}

const refuse = (reason: 'invalid_key' | 'key_revoked' | 'key_expired', message: string): KeyLookupResult => ({
  ok: false,
  reason,
  message,
})
const malformed = refuse(
  'invalid_key',
  'this is not an API key: a key is `x402_live_` or `x402_test_` and 32 letters and digits (42 characters); send it exactly as it was issued',
)
const unknown = refuse(
  'invalid_key',
  'this API key is not known: check that it was copied whole, or ask the API for a new key',
)

/**
 * A cache of keys in front of a `KeyStore`, by hash: each key is looked up in the store once,
 * and the whole cache (keys and plans) is forgotten whenever `store.version()` moves, so a
 * revoke committed by any process is refused from the next `find` on (a millisecond later at
 * most), and by `findNow` within `findNowEveryMs`; `forget()` makes it at once.
 *
 * @example
 * const lookup = createKeyLookup(keys, { plans: [plans.free(), plans.payAsYouGo()] })
 * const found = await lookup.find(bearerToken)
 * if (!found.ok) return new Response(found.message, { status: 401 })
 */
export function createKeyLookup(store: KeyStore, options: KeyLookupOptions = {}): KeyLookup {
  const clock = options.now ?? Date.now
  const maxCached = options.maxCached ?? 10_000
  const codePlans = new Map((options.plans ?? []).map((plan) => [plan.name, plan]))
  const cache = new Map<string, ApiKeyRecord>()
  let plansOf: Promise<Map<string, PlanDefinition>> | undefined
  /** What `plansOf` resolved to, while it holds: for `findNow`, which never waits. */
  let plansNow: Map<string, PlanDefinition> | undefined
  let checkedAt = Number.NaN
  let seen = store.version()
  /** Moves each time the cache is forgotten: a lookup begun before it is not cached. */
  let generation = 0

  const everyMs = options.findNowEveryMs ?? 5
  /** When `findNow` last read the version (`find`'s reads count too). */
  let nowCheckedAt = Number.NEGATIVE_INFINITY
  const forgetIfChanged = (now: number) => {
    if (now === checkedAt) return
    checkedAt = now
    nowCheckedAt = now
    const version = store.version()
    if (version === seen) return
    seen = version
    generation++
    cache.clear()
    plansOf = undefined
    plansNow = undefined
  }
  const loadPlans = async () => {
    const before = generation
    const all = new Map((await store.plans()).map((plan) => [plan.name, plan]))
    for (const [name, plan] of codePlans) all.set(name, plan)
    if (before === generation) plansNow = all
    return all
  }
  const planOf = async (record: ApiKeyRecord) => {
    plansOf ??= loadPlans()
    const loading = plansOf
    const plan = await loading.catch((error) => {
      if (plansOf === loading) plansOf = undefined
      throw error
    })
    const found = plan.get(record.plan)
    if (!found)
      throw new X402Error('invalid_config', {
        message: `key \`${record.id}\` is on plan "${record.plan}", which is neither given in code (createKeyLookup's \`plans\`) nor put in the key store: add the plan, or move the key to a known one`,
        details: { keyId: record.id, plan: record.plan },
      })
    return found
  }

  /** Why a key found in the store is refused at `now` (revoked, expired); `undefined`: it is not. */
  const refusalOf = (record: ApiKeyRecord, now: number): KeyLookupResult | undefined => {
    if (record.revokedAt !== undefined)
      return refuse(
        'key_revoked',
        `this API key (\`${record.id}\`) was revoked on ${new Date(record.revokedAt).toISOString()}: ask the API for a new key`,
      )
    if (record.expiresAt !== undefined && record.expiresAt <= now)
      return refuse(
        'key_expired',
        `this API key (\`${record.id}\`) expired on ${new Date(record.expiresAt).toISOString()}: ask the API for a new key, or to extend this one`,
      )
    return undefined
  }

  return {
    async find(presentedKey) {
      if (!looksLikeApiKey(presentedKey)) return malformed
      const now = clock()
      forgetIfChanged(now)
      const hash = hashApiKey(presentedKey)
      let record = cache.get(hash)
      if (!record) {
        const before = generation
        record = await store.findByHash(hash)
        if (!record) return unknown
        if (before === generation) {
          if (cache.size >= maxCached) cache.clear()
          cache.set(hash, record)
        }
      }
      const refused = refusalOf(record, now)
      if (refused) return refused
      return { ok: true, record, plan: await planOf(record) }
    },
    findNow(presentedKey) {
      if (!looksLikeApiKey(presentedKey)) return undefined
      const now = clock()
      // A clock that went back reads it at once.
      if (now - nowCheckedAt >= everyMs || now < nowCheckedAt) forgetIfChanged(now)
      const record = cache.get(hashApiKey(presentedKey))
      if (!record) return undefined
      const refused = refusalOf(record, now)
      if (refused) return refused
      const plan = plansNow?.get(record.plan)
      return plan && { ok: true, record, plan }
    },
    forget() {
      generation++
      cache.clear()
      plansOf = undefined
      plansNow = undefined
    },
  }
}
