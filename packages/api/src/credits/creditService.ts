import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import { createCreditLedger } from './createCreditLedger.js'
import { hashToken, issueToken, tokenPrefix } from './tokens.js'
import type { CreditBalance, CreditEntry, CreditLedger } from './types.js'

/** Credit held in this process for one request with a price known before it runs. */
export type Hold = { account: string; amount: bigint; done: boolean }

/**
 * The paywall's credit accounts: the durable ledger, with the hot path kept in process
 * (DESIGN.md: "hot credit balances: in process"). A request with a known price holds its
 * amount in memory (no I/O), and its charge is written with the other charges of the same
 * moment in one SQLite transaction, before the response goes out. Metered requests, which
 * run long, reserve in the ledger itself, so that a crash leaves a reservation that expires.
 *
 * One process owns a credit file: another process writing the same file does not see the
 * holds of this one (the scale-out issue moves hot balances to Redis).
 */
export type CreditService = {
  ledger(): CreditLedger
  /** The account of a bearer token, or `undefined` for an unknown token. */
  accountFor(token: string): Promise<string | undefined>
  /** Opens an account and returns it with its first token (only the token's hash is kept). */
  open(): Promise<{ account: string; token: string }>
  available(account: string): Promise<bigint>
  /** Holds `amount` in memory, or says how much is available. */
  hold(account: string, amount: bigint): Promise<Hold | { ok: false; available: bigint }>
  /**
   * {@link hold} without waiting, for a token and account this process knows already;
   * `undefined` when they must be read first (then use `accountFor` and `hold`).
   */
  holdNow(token: string, amount: bigint): Hold | { ok: false; available: bigint } | undefined
  /** Charges `amount` (≤ the hold) durably and frees the rest; resolves with the balance left. */
  charge(hold: Hold, amount: bigint): Promise<bigint>
  /** Frees a hold, charging nothing. */
  drop(hold: Hold): void
  /** A durable reservation (metered requests). */
  reserve(
    account: string,
    amount: bigint,
    ttlMs: number,
    ref?: string,
  ): Promise<{ ok: true; reservationId: string } | { ok: false; available: bigint }>
  /** Captures `amount` of a reservation and releases the rest; resolves with the balance left. */
  capture(account: string, reservationId: string, amount: bigint): Promise<bigint>
  release(account: string, reservationId: string, reason: string): Promise<bigint>
  /** Keeps a running request's reservation from expiring. */
  extend(reservationId: string, ttlMs: number): Promise<boolean>
  /** Gives charged credit back (a response that never reached the caller), idempotent by `ref`. */
  refund(account: string, amount: bigint, ref: string, reason: string): Promise<bigint>
  /** A new token for an account (the payer proved it paid into it). */
  issue(account: string): Promise<string>
  /** The account a payment's credit went to, by the payment id. */
  accountOfPayment(paymentId: string): Promise<string | undefined>
  /** Credits a payment, once per `ref`; `replayed` when that `ref` was credited before. */
  topUp(account: string, amount: bigint, ref: string): Promise<{ balance: bigint; replayed: boolean }>
  /** Operator credit, idempotent by `ref`. */
  grant(account: string, amount: bigint, ref: string, note?: string): Promise<bigint>
  /** Sends unused credit out (an on-chain refund): moves it off the caller's balance. */
  payout(account: string, amount: bigint, ref: string): Promise<bigint>
  balance(account: string): Promise<CreditBalance>
  entries(account: string, limit: number): Promise<CreditEntry[]>
  /** Releases expired reservations (crash recovery). */
  expire(): Promise<number>
  close(): Promise<void>
}

type Pending = { account: string; amount: bigint; resolve(): void; reject(e: unknown): void }

/** How many tokens' accounts are kept in memory. */
const tokenCacheSize = 10_000

export type CreditServiceOptions = { path: string } | { ledger: CreditLedger }

export function createCreditService(options: CreditServiceOptions): CreditService {
  let opened: CreditLedger | undefined
  const ledger = () => {
    opened ??= 'ledger' in options ? options.ledger : createCreditLedger({ path: options.path })
    return opened
  }
  /** Each account's spendable credit in this process: the ledger's, less holds and unwritten charges. */
  const hot = new Map<string, bigint>()
  const tokens = new Map<string, string>()
  /** Accounts with holds or charges not yet written: their hot balance is the only true one. */
  const outstanding = new Map<string, number>()
  const track = (account: string, delta: 1 | -1) => {
    const n = (outstanding.get(account) ?? 0) + delta
    if (n > 0) outstanding.set(account, n)
    else outstanding.delete(account)
  }
  let queue: Pending[] = []
  let scheduled = false

  /** The ledger's data version when the hot balances were last known to match it. */
  let version: number | undefined
  let checkedAt = Number.NEGATIVE_INFINITY
  /**
   * An account's spendable credit. While this process holds some of it (or has charges not
   * yet written) the hot figure is the only true one. Otherwise the hot figure stands until
   * another connection writes to the file (another process, or this process's payments
   * ledger on the same file); then balances are read afresh, so what another process spent
   * or granted shows at once.
   */
  /** The hot figure, if it still stands (see {@link load}); `undefined` when it must be read. */
  const cached = (account: string): bigint | undefined => {
    // Asking SQLite costs about 10 µs: at most once a millisecond.
    const at = performance.now()
    if (at - checkedAt >= 1) {
      checkedAt = at
      const now = ledger().dataVersion?.()
      if (now === undefined || now !== version) {
        for (const known of hot.keys()) if (!outstanding.has(known)) hot.delete(known)
        version = now
      }
    }
    return hot.get(account)
  }
  const load = async (account: string): Promise<bigint> => {
    const known = cached(account)
    if (known !== undefined) return known
    const { available } = await ledger().balance(account)
    // A hold may have started while this read waited: its figure wins.
    const again = hot.get(account)
    if (again !== undefined) return again
    hot.set(account, available)
    return available
  }
  const takeHold = (account: string, amount: bigint): Hold | { ok: false; available: bigint } => {
    const available = hot.get(account) as bigint
    if (available < amount) return { ok: false, available }
    hot.set(account, available - amount)
    track(account, 1)
    return { account, amount, done: false }
  }
  const add = (account: string, delta: bigint) => {
    const known = hot.get(account)
    if (known !== undefined) hot.set(account, known + delta)
  }

  /** Writes every charge queued in this turn of the event loop in one transaction. */
  const flush = async () => {
    scheduled = false
    const batch = queue
    queue = []
    try {
      const results = await ledger().chargeMany({
        ref: `chg_${randomUUID()}`,
        items: batch.map(({ account, amount }) => ({ account, amount })),
      })
      results.forEach((ok, i) => {
        const item = batch[i] as Pending
        if (ok) item.resolve()
        else {
          // The ledger had less than this process thought: another writer spent it.
          add(item.account, item.amount)
          item.reject(
            new X402Error('store_unavailable', {
              message: 'the credit balance changed outside this process; nothing was charged, retry',
            }),
          )
        }
      })
    } catch (error) {
      for (const item of batch) {
        add(item.account, item.amount)
        item.reject(error)
      }
    }
  }

  return {
    ledger,
    async accountFor(token) {
      if (!token.startsWith(tokenPrefix)) return undefined
      const cached = tokens.get(token)
      if (cached) return cached
      const account = await ledger().accountForToken(token)
      if (account) {
        if (tokens.size >= tokenCacheSize) tokens.delete(tokens.keys().next().value as string)
        tokens.set(token, account)
      }
      return account
    },
    async open() {
      const account = `acct_${randomUUID()}`
      const { token, hash } = issueToken()
      await ledger().linkToken(hash, account)
      return { account, token }
    },
    available: load,
    async hold(account, amount) {
      await load(account)
      // Read again after the await: another hold may have taken some meanwhile.
      return takeHold(account, amount)
    },
    holdNow(token, amount) {
      const account = tokens.get(token)
      if (account === undefined || cached(account) === undefined) return undefined
      return takeHold(account, amount)
    },
    charge(hold, amount) {
      if (hold.done) return Promise.reject(new Error('this hold was already charged or dropped'))
      hold.done = true
      add(hold.account, hold.amount - amount)
      if (amount === 0n) {
        track(hold.account, -1)
        return Promise.resolve(hot.get(hold.account) ?? 0n)
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ account: hold.account, amount, resolve, reject })
        if (!scheduled) {
          scheduled = true
          setImmediate(() => void flush())
        }
      })
        .finally(() => track(hold.account, -1))
        .then(() => hot.get(hold.account) ?? 0n)
    },
    drop(hold) {
      if (hold.done) return
      hold.done = true
      add(hold.account, hold.amount)
      track(hold.account, -1)
    },
    async reserve(account, amount, ttlMs, ref) {
      await load(account)
      const available = hot.get(account) as bigint
      if (available < amount) return { ok: false, available }
      // Held in memory first, so a concurrent hold never sees this credit as free.
      hot.set(account, available - amount)
      track(account, 1)
      try {
        const result = await ledger().reserve({ account, amount, ttlMs, ...(ref ? { ref } : {}) })
        if (!result.ok) {
          add(account, amount)
          return { ok: false, available: result.available }
        }
        return { ok: true, reservationId: result.reservationId }
      } catch (error) {
        add(account, amount)
        throw error
      } finally {
        track(account, -1)
      }
    },
    async capture(account, reservationId, amount) {
      const { released } = await ledger().capture({ reservationId, amount })
      add(account, released)
      return load(account)
    },
    async release(account, reservationId, reason) {
      const { released } = await ledger().release({ reservationId, reason })
      add(account, released)
      return load(account)
    },
    extend: (reservationId, ttlMs) => ledger().extend({ reservationId, ttlMs }),
    async refund(account, amount, ref, reason) {
      const { replayed } = await ledger().refund({ account, amount, ref, reason })
      if (!replayed) add(account, amount)
      return load(account)
    },
    async issue(account) {
      const { token, hash } = issueToken()
      await ledger().linkToken(hash, account)
      return token
    },
    accountOfPayment: (paymentId) => ledger().topUpAccount(paymentId),
    async topUp(account, amount, ref) {
      const { replayed } = await ledger().topUp({ account, amount, ref })
      if (!replayed) add(account, amount)
      return { balance: await load(account), replayed }
    },
    async grant(account, amount, ref, note) {
      const { replayed } = await ledger().grant({ account, amount, ref, ...(note ? { note } : {}) })
      if (!replayed) add(account, amount)
      return load(account)
    },
    async payout(account, amount, ref) {
      const { replayed } = await ledger().payout({ account, amount, ref })
      if (!replayed) add(account, -amount)
      return load(account)
    },
    async balance(account) {
      const durable = await ledger().balance(account)
      const available = hot.get(account)
      return available === undefined ? durable : { available, reserved: durable.reserved }
    },
    entries: (account, limit) => ledger().entries(account, { limit }),
    async expire() {
      const count = await ledger().expireReservations()
      // Expired reservations went back to their callers: read the balances afresh.
      if (count > 0) for (const account of [...hot.keys()]) if (!outstanding.has(account)) hot.delete(account)
      return count
    },
    async close() {
      while (queue.length) await flush()
      await opened?.close()
    },
  }
}

export { hashToken }

/**
 * Per process, not per module instance: bundlers (Next.js builds one bundle per route and
 * one for the proxy) load this file more than once, and every copy must share the balances.
 */
const registryKey = Symbol.for('402x.creditServices')
type Registry = Map<string, { service: CreditService; users: number }>
const globals = globalThis as Record<symbol, Registry | undefined>
const shared: Registry = globals[registryKey] ?? new Map()
globals[registryKey] = shared

/**
 * The credit service of a file, one per process: every paywall that keeps its credit in
 * the same file shares its hot balances, so that two routes never spend the same credit.
 * Each user's `close()` lets go of it; the last one closes it.
 */
export function sharedCreditService(path: string): CreditService {
  let entry = shared.get(path)
  if (!entry) {
    entry = { service: createCreditService({ path }), users: 0 }
    shared.set(path, entry)
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
        shared.delete(path)
        await current.service.close()
      }
    },
  }
}
