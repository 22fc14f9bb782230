import type { CreditStore } from '../stores/types.js'
import { createPostgresCreditStore } from './createPostgresCreditStore.js'
import { type CreditService, createCreditService } from './creditService.js'

/**
 * Per process, not per module instance: bundlers (Next.js builds one bundle per route and
 * one for the proxy) load this file more than once, and every copy must share the balances.
 */
const registryKey = Symbol.for('402x.creditServices')
type Registry = Map<string, { service: CreditService; users: number }>
const globals = globalThis as Record<symbol, Registry | undefined>
const shared: Registry = globals[registryKey] ?? new Map()
globals[registryKey] = shared

/** Services of injected store objects, one per object (a store has no path to key on). */
const byStore = new WeakMap<CreditStore, { service: CreditService; users: number }>()

/**
 * The credit service of a file (or of a store object), one per process: every paywall that
 * keeps its credit in the same file shares its hot balances, so that two routes never spend
 * the same credit. Each user's `close()` lets go of it; the last one closes it.
 */
export function sharedCreditService(
  source: string | { path: string } | { url: string } | { store: CreditStore },
): CreditService {
  const url = typeof source === 'object' && 'url' in source ? source.url : undefined
  // A PostgreSQL database is keyed by its URL, as a SQLite file by its path.
  const path = typeof source === 'string' ? source : 'path' in source ? source.path : url
  const store = typeof source === 'object' && 'store' in source ? source.store : undefined
  let entry = path !== undefined ? shared.get(path) : byStore.get(store as CreditStore)
  if (!entry) {
    const service = createCreditService(
      url !== undefined
        ? { store: createPostgresCreditStore({ url }) }
        : path !== undefined
          ? { path }
          : { store: store as CreditStore },
    )
    entry = { service, users: 0 }
    if (path !== undefined) shared.set(path, entry)
    else byStore.set(store as CreditStore, entry)
  }
  entry.users += 1
  const current = entry
  let closed = false
  return {
    ...current.service,
    async close() {
      if (closed) return
      closed = true
      current.users -= 1
      if (current.users === 0) {
        if (path !== undefined) shared.delete(path)
        else byStore.delete(store as CreditStore)
        await current.service.close()
      }
    },
  }
}
