import { X402Error } from '@402x/core'
import { memoryStoreEvents } from '../webhooks/memoryStoreEvents.js'
import { checkPlan } from './checkPlan.js'
import { mintedFrom, revokedOrder, revokeEventsOf } from './mintedKeys.js'
import { newKeyRecord } from './newKeyRecord.js'
import type { ApiKeyRecord, KeyStore, PlanDefinition } from './types.js'

const copy = (record: ApiKeyRecord): ApiKeyRecord => ({ ...record, metadata: { ...record.metadata } })

/**
 * API keys and run-time plans in this process's memory, for tests and throwaway servers:
 * gone when the process ends. `version()` moves on every write.
 *
 * @example
 * const keys = createMemoryKeyStore()
 * const { key, record } = await keys.create({ name: 'acme', plan: 'free', mode: 'test' })
 */
export function createMemoryKeyStore(options: { now?: () => number } = {}): KeyStore {
  const clock = options.now ?? Date.now
  const byId = new Map<string, ApiKeyRecord>()
  const byHash = new Map<string, string>()
  const plans = new Map<string, PlanDefinition>()
  const relay = memoryStoreEvents()
  let version = 0
  let closed = false
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw new X402Error('store_unavailable', { message: 'the key store is closed' })
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return {
    create: (input, events) =>
      run(() => {
        const created = newKeyRecord(input, clock())
        byId.set(created.record.id, created.record)
        byHash.set(created.record.hash, created.record.id)
        relay.write(events?.(copy(created.record)))
        version++
        return { key: created.key, record: copy(created.record) }
      }),
    findByHash: (hash) =>
      run(() => {
        const id = byHash.get(hash)
        const record = id === undefined ? undefined : byId.get(id)
        return record && copy(record)
      }),
    get: (id) => run(() => ((record) => record && copy(record))(byId.get(id))),
    list: ({ plan, includeRevoked = false } = {}) =>
      run(() =>
        [...byId.values()]
          .filter((r) => (plan === undefined || r.plan === plan) && (includeRevoked || r.revokedAt === undefined))
          .map(copy),
      ),
    revoke: (id, events) =>
      run(() => {
        // The key and every key minted from it, each once (an owner loop ends here too).
        const tree = new Set(byId.has(id) ? [id] : [])
        for (const parent of tree)
          for (const record of byId.values()) if (mintedFrom(record, parent)) tree.add(record.id)
        const at = clock()
        const revoked: ApiKeyRecord[] = []
        for (const key of tree) {
          const record = byId.get(key) as ApiKeyRecord
          if (record.revokedAt !== undefined) continue
          record.revokedAt = at
          revoked.push(copy(record))
        }
        if (revoked.length === 0) return false
        relay.write(revokeEventsOf(events, id, revoked.sort(revokedOrder(id))))
        version++
        return revoked[0]?.id === id
      }),
    putPlan: (plan) =>
      run(() => {
        checkPlan(plan)
        plans.set(plan.name, structuredClone(plan))
        version++
      }),
    plans: () =>
      run(() => [...plans.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) => structuredClone(p))),
    webhookEvents: relay.source,
    version: () => version,
    close: () => {
      closed = true
      return Promise.resolve()
    },
  }
}
