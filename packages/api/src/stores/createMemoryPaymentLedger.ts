import { X402Error } from '@402x/core'
import { checkQuery, pageOf } from '../ledger/paymentQuery.js'
import { type PaymentRecord, type PaymentState, transitions } from '../ledger/types.js'
import { createMemoryOutbox } from '../webhooks/memoryOutbox.js'
import type { PaymentLedger } from './types.js'

/** The states in which a payment holds its authorization: the replay guard's. */
const liveStates = new Set<PaymentState>(['verified', 'settling', 'settled', 'pending', 'reconciled'])

/**
 * A payments ledger in process memory: for tests and throwaway servers. Nothing survives a
 * restart, and no other process sees it; keep the SQLite ledger (the default) for money.
 *
 * @example
 * const paywall = createPaywall({ price: 0.01, ledger: createMemoryPaymentLedger() })
 */
export function createMemoryPaymentLedger(now = Date.now): PaymentLedger {
  /** In insertion order: `list` reads it backwards. */
  const rows = new Map<string, PaymentRecord>()
  /** Each payment's position in insertion order (from 1): the query's cursor. */
  const positions = new Map<string, number>()
  /** The replay guard: a live payment per (network, asset, payer, nonce). */
  const live = new Map<string, string>()
  const nonceKey = (network: string, asset: string, payer: string, nonce: string) =>
    `${network}\n${asset.toLowerCase()}\n${payer.toLowerCase()}\n${nonce.toLowerCase()}`
  /** The recovery leases: who reconciles a stale payment now, and until when (ms epoch). */
  const leases = new Map<string, { owner: string; until: number }>()
  /** The webhook outbox: a move's events are written in the same synchronous step. */
  const outbox = createMemoryOutbox()
  let closed = false
  const open = () => {
    if (closed) throw new X402Error('store_unavailable', { message: 'the memory ledger was closed' })
  }
  const inStates = (states: readonly PaymentState[], olderThan: number) => {
    open()
    for (const state of states) {
      if (!Object.hasOwn(transitions, state))
        throw new X402Error('invalid_request', { message: `no payment state "${state}"` })
    }
    return [...rows.values()]
      .filter((r) => states.includes(r.state) && r.updatedAt < olderThan)
      .sort((x, y) => x.createdAt - y.createdAt)
  }
  // Copies out, so that a caller changing a record never changes the ledger.
  const copy = (r: PaymentRecord | undefined) => (r ? { ...r } : undefined)
  return {
    async insert(payment) {
      open()
      const key = nonceKey(payment.network, payment.asset, payment.payer, payment.nonce)
      // As SQLite's unique indexes: a known id, or a live payment for the same authorization.
      if (rows.has(payment.id) || (liveStates.has(payment.state) && live.has(key))) return false
      const t = now()
      const record: PaymentRecord = {
        ...payment,
        asset: payment.asset.toLowerCase(),
        payer: payment.payer.toLowerCase(),
        nonce: payment.nonce.toLowerCase(),
        createdAt: t,
        updatedAt: t,
      }
      rows.set(payment.id, record)
      positions.set(payment.id, positions.size + 1)
      if (liveStates.has(payment.state)) live.set(key, payment.id)
      return true
    },
    async transition(id, to, update = {}) {
      open()
      const record = rows.get(id)
      if (!record || !transitions[record.state].includes(to)) return false
      record.state = to
      record.updatedAt = now()
      if (update.transaction !== undefined) record.transaction = update.transaction
      if (update.reason !== undefined) record.reason = update.reason
      if (update.message !== undefined) record.message = update.message
      if (update.undelivered) record.undelivered = true
      if (!liveStates.has(to)) live.delete(nonceKey(record.network, record.asset, record.payer, record.nonce))
      if (outbox.paymentEvents) outbox.insertNow(outbox.paymentEvents({ ...record }))
      return true
    },
    async get(id) {
      open()
      return copy(rows.get(id))
    },
    async findByNonce(network, asset, payer, nonce) {
      open()
      const id = live.get(nonceKey(network, asset, payer, nonce))
      return copy(id === undefined ? undefined : rows.get(id))
    },
    async listByState(states, olderThan = Number.MAX_SAFE_INTEGER) {
      return inStates(states, olderThan).map((r) => ({ ...r }))
    },
    async claimStale(states, olderThan, owner, leaseMs, limit = Number.POSITIVE_INFINITY) {
      const stale = inStates(states, olderThan)
      const t = now()
      const mine: PaymentRecord[] = []
      for (const [id, lease] of leases) if (lease.until <= t) leases.delete(id)
      // One synchronous pass from here: no other claim interleaves.
      for (const record of stale) {
        if (mine.length >= limit) break
        const lease = leases.get(record.id)
        if (lease && lease.owner !== owner && lease.until > t) continue
        leases.set(record.id, { owner, until: t + leaseMs })
        mine.push({ ...record })
      }
      return mine
    },
    async setUndelivered(id, undelivered) {
      open()
      const record = rows.get(id)
      if (!record || Boolean(record.undelivered) === undelivered) return false
      if (undelivered) record.undelivered = true
      else delete record.undelivered
      record.updatedAt = now()
      return true
    },
    async payerStats(payer, since) {
      open()
      const byAsset = new Map<string, { asset: string; count: number; amount: bigint }>()
      for (const r of rows.values()) {
        if (r.payer !== payer.toLowerCase() || r.createdAt < since) continue
        if (r.state !== 'settled' && r.state !== 'pending' && r.state !== 'reconciled') continue
        const stats = byAsset.get(r.asset) ?? { asset: r.asset, count: 0, amount: 0n }
        stats.count += 1
        stats.amount += BigInt(r.amount)
        byAsset.set(r.asset, stats)
      }
      return [...byAsset.values()]
    },
    async list({ limit = 100 } = {}) {
      open()
      return [...rows.values()]
        .reverse()
        .slice(0, limit)
        .map((r) => ({ ...r }))
    },
    async query(query) {
      open()
      const q = checkQuery(query)
      const all = [...rows.values()]
      const picked: PaymentRecord[] = []
      for (let i = 0; i < all.length && picked.length <= q.limit; i++) {
        const r = all[q.newest ? all.length - 1 - i : i] as PaymentRecord
        const at = BigInt(positions.get(r.id) as number)
        if (q.after !== undefined && (q.newest ? at >= q.after : at <= q.after)) continue
        if (q.payer !== undefined && r.payer !== q.payer) continue
        if (q.states && !q.states.includes(r.state)) continue
        if (query.resource !== undefined && !r.resource.includes(query.resource)) continue
        if (query.from !== undefined && r.createdAt < query.from) continue
        if (query.to !== undefined && r.createdAt >= query.to) continue
        picked.push(r)
      }
      return pageOf(
        picked,
        q.limit,
        q.newest,
        (r) => positions.get(r.id) as number,
        (r) => ({ ...r }),
      )
    },
    outbox,
    async close() {
      closed = true
    },
  }
}
