import { X402Error } from '@402x/core'
import type { Journal } from './journal.js'
import type { Ledger, PaymentRecord, PaymentState } from './types.js'
import { liveStates, transitions } from './types.js'

type Sync<F> = F extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never

/** What the write-behind layer asks of the SQLite file: the ledger's reads and moves, synchronous. */
export type LedgerFile = {
  [K in 'transition' | 'setUndelivered' | 'get' | 'findByNonce' | 'payerStats' | 'listByState' | 'list']: Sync<
    Ledger[K]
  >
} & {
  /** Writes these payments in one transaction; a row already further along is left as it is. */
  upsert(payments: PaymentRecord[]): void
  close(): void
}

const keyOf = (p: Pick<PaymentRecord, 'network' | 'asset' | 'payer' | 'nonce'>) =>
  `${p.network}\n${p.asset}\n${p.payer}\n${p.nonce}`.toLowerCase()

const storeFault = (cause: unknown) =>
  cause instanceof X402Error
    ? cause
    : new X402Error('store_unavailable', { message: `the payment ledger failed: ${(cause as Error).message}`, cause })

/**
 * A ledger whose new payments are acknowledged once they are in this process's journal (one
 * append), and written to the SQLite file in batches, at most `delayMs` later. A payment
 * that ends within that time (most: a paid request is verified and settled in tens of ms) is
 * written once, in its last state, in a transaction it shares with the others.
 *
 * Until it is written, a payment lives here alone, so no other process can move it: its
 * moves are checked and made in memory, and journaled. Once written, it is the SQLite file's,
 * and every later move is a conditional `UPDATE` there, as another process's would be.
 * Readers in this process see both; other processes see it once written.
 */
export function createWriteBehind(options: { file: LedgerFile; journal?: Journal; delayMs: number }): Ledger {
  const { file, journal, delayMs } = options
  /** Payments acknowledged and not yet in the file, by id. */
  const pending = new Map<string, PaymentRecord>()
  /** The live payment in `pending` for each authorization. */
  const live = new Map<string, string>()
  let timer: NodeJS.Timeout | undefined
  let failing: Error | undefined
  let closed = false

  const flush = () => {
    if (timer) {
      clearTimeout(timer)
      timer = undefined
    }
    if (pending.size === 0) return
    try {
      file.upsert([...pending.values()])
    } catch (error) {
      // The file is busy or failing: everything stays journaled; tried again later.
      if (!failing)
        console.error(`402x: the payment ledger could not be written, retrying: ${(error as Error).message}`)
      failing = error as Error
      schedule()
      throw storeFault(error)
    }
    failing = undefined
    pending.clear()
    live.clear()
    journal?.clear()
  }
  const schedule = () => {
    if (timer || closed) return
    timer = setTimeout(() => {
      timer = undefined
      try {
        flush()
      } catch {
        // Reported once by flush; the payments are safe in the journal.
      }
    }, delayMs)
    timer.unref()
  }
  /** Journals an entry: the payment is acknowledged only once this returns. */
  const record = (fn: () => void) => {
    if (closed) throw new X402Error('store_unavailable', { message: 'the payment ledger is closed' })
    fn()
    schedule()
  }
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(storeFault(error))
    }
  }
  const change = (payment: PaymentRecord, update: Partial<PaymentRecord>) => {
    const next = { ...payment, ...update, updatedAt: Date.now() }
    journal?.append({ c: { id: next.id, state: next.state, updatedAt: next.updatedAt, ...update } })
    pending.set(next.id, next)
    const key = keyOf(next)
    if (!liveStates.includes(next.state) && live.get(key) === next.id) live.delete(key)
  }

  return {
    insert: (payment) =>
      guard(() => {
        const now = Date.now()
        const lowered: PaymentRecord = {
          ...payment,
          payer: payment.payer.toLowerCase(),
          nonce: payment.nonce.toLowerCase(),
          asset: payment.asset.toLowerCase(),
          createdAt: now,
          updatedAt: now,
        }
        const key = keyOf(lowered)
        const isLive = liveStates.includes(lowered.state)
        // The store's replay guard: one live payment per authorization, here or in the file.
        if (isLive && (live.has(key) || file.findByNonce(lowered.network, lowered.asset, lowered.payer, lowered.nonce)))
          return false
        record(() => {
          journal?.append({ p: lowered })
          pending.set(lowered.id, lowered)
          if (isLive) live.set(key, lowered.id)
        })
        return true
      }),
    transition: (id, to, update = {}) =>
      guard(() => {
        const payment = pending.get(id)
        if (!payment) return file.transition(id, to, update)
        if (!transitions[payment.state].includes(to)) return false
        record(() =>
          change(payment, {
            state: to,
            ...(update.transaction ? { transaction: update.transaction } : {}),
            ...(update.reason ? { reason: update.reason } : {}),
            ...(update.message ? { message: update.message } : {}),
            ...(update.undelivered ? { undelivered: true } : {}),
          }),
        )
        return true
      }),
    setUndelivered: (id, undelivered) =>
      guard(() => {
        const payment = pending.get(id)
        if (!payment) return file.setUndelivered(id, undelivered)
        if (Boolean(payment.undelivered) === undelivered) return false
        record(() => change(payment, { undelivered }))
        return true
      }),
    get: (id) =>
      guard(() => {
        const payment = pending.get(id)
        return payment ? withoutFalse(payment) : file.get(id)
      }),
    findByNonce: (network, asset, payer, nonce) =>
      guard(() => {
        const id = live.get(keyOf({ network, asset, payer, nonce }))
        const payment = id === undefined ? undefined : pending.get(id)
        return payment ? withoutFalse(payment) : file.findByNonce(network, asset, payer, nonce)
      }),
    payerStats: (payer, since) =>
      guard(() => {
        // The file's figures, and this process's payments not yet in it.
        const rows = file.payerStats(payer, since)
        const lower = payer.toLowerCase()
        for (const p of pending.values()) {
          if (p.payer !== lower || p.createdAt < since || !counted.includes(p.state)) continue
          const row = rows.find((r) => r.asset === p.asset)
          if (row) {
            row.count++
            row.amount += Number(p.amount)
          } else rows.push({ asset: p.asset, count: 1, amount: Number(p.amount) })
        }
        return rows
      }),
    // Listings read the file alone: what is pending is written first.
    listByState: (states, olderThan) =>
      guard(() => {
        flush()
        return file.listByState(states, olderThan)
      }),
    list: (listOptions) =>
      guard(() => {
        flush()
        return file.list(listOptions)
      }),
    flush: () => guard(flush),
    close: () =>
      guard(() => {
        if (closed) return
        flush()
        closed = true
        journal?.close()
        file.close()
      }),
  }
}

/** The states whose payments count toward a payer's history (volume tiers). */
const counted: readonly PaymentState[] = ['settled', 'pending', 'reconciled']

/** A record as the file gives it back: `undelivered` only when true. */
const withoutFalse = (payment: PaymentRecord): PaymentRecord => {
  if (payment.undelivered) return { ...payment }
  const { undelivered: _, ...rest } = payment
  return rest
}
