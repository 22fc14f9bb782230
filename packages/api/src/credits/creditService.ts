import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import { groupCommit } from '../stores/groupCommit.js'
import type { CreditStore } from '../stores/types.js'
import { createCreditLedger } from './createCreditLedger.js'
import type { Charged, CreditService, Hold } from './creditServiceTypes.js'
import { sharedReads } from './sharedReads.js'
import { hashToken, issueToken, tokenPrefix } from './tokens.js'

export type { Charged, CreditService, Hold } from './creditServiceTypes.js'

type Pending = { account: string; amount: bigint; context: unknown; done: Charged<unknown> }

/**
 * How long charges stay on the tab (durable, counted against the balance) before they are
 * posted as `charge` entries: one posting per caller per second at most.
 */
const postTabsMs = 1_000

/** A charge the ledger refused: another process spent the credit this one held. */
const refused = () =>
  new X402Error('store_unavailable', {
    message: 'the credit balance changed outside this process; nothing was charged, retry',
  })

/** How many tokens' accounts are kept in memory. */
const tokenCacheSize = 10_000

/** A SQLite file to open, or a credit store (`ledger` is its former name). */
export type CreditServiceOptions = { path: string } | { store: CreditStore } | { ledger: CreditStore }

export function createCreditService(options: CreditServiceOptions): CreditService {
  let opened: CreditStore | undefined
  let closed = false
  let closing: Promise<void> | undefined
  const ledger = () => {
    if (closed) throw new X402Error('store_unavailable', { message: 'the credit service was closed' })
    opened ??=
      'store' in options
        ? options.store
        : 'ledger' in options
          ? options.ledger
          : createCreditLedger({ path: options.path })
    return opened
  }
  /**
   * Spendable credit = what the ledger holds (`durable`, as last read) − what this process
   * has taken in memory and not yet written (`pending`: holds in flight, and charges queued
   * or being written). `durable` is kept in step with this process's own writes, and
   * forgotten whenever another connection writes to the file (another process, or this
   * process's payments ledger on the same file): it is then read afresh. `pending` is never
   * forgotten, so what is held here stays held whatever the file says.
   */
  const durable = new Map<string, bigint>()
  /** The balance reads under way; forgetting one forgets its `durable` figure too. */
  const reads = sharedReads(durable)
  const pending = new Map<string, bigint>()
  const tokens = new Map<string, string>()
  const addTo = (map: Map<string, bigint>, account: string, delta: bigint) => {
    const known = map.get(account)
    if (known === undefined) {
      if (map === pending && delta !== 0n) map.set(account, delta)
      return
    }
    const next = known + delta
    if (map === pending && next === 0n) map.delete(account)
    else map.set(account, next)
  }
  const spendable = (account: string) => (durable.get(account) ?? 0n) - (pending.get(account) ?? 0n)
  let queue: Pending[] = []
  /** Posts the tabs a moment after the first charge since they were last posted. */
  let postTimer: ReturnType<typeof setTimeout> | undefined
  const schedulePosting = () => {
    if (postTimer || closed) return
    postTimer = setTimeout(postTabs, postTabsMs)
    postTimer.unref?.()
  }
  const postTabs = () => {
    postTimer = undefined
    if (closed) return
    // A tab that cannot be posted now (a busy or broken file) stays on the tab, counted
    // against the balance; try again later.
    ledger().postTabs().catch(schedulePosting)
  }

  /** The store's change signal (`version()`) when `durable` was last known to match it. */
  let version: number | undefined
  let checkedAt = Number.NEGATIVE_INFINITY
  /**
   * Forgets `durable` when another writer committed; reads the store's change signal (SQLite:
   * its data_version, about 10 µs) at most once a millisecond.
   */
  const fresh = () => {
    const at = performance.now()
    if (at - checkedAt < 1) return
    checkedAt = at
    const store = ledger()
    const now = store.version()
    if (now !== version) {
      version = now
      // Only what another writer moved, when the store can say; else everything.
      const changed = store.changes?.() ?? { accounts: 'all' as const, tokens: true }
      if (changed.accounts === 'all') reads.clear()
      else for (const account of changed.accounts) reads.delete(account)
      // A token revoked by another process stops working here too.
      if (changed.tokens) tokens.clear()
    }
  }
  /** The ledger's figure for an account, read when it is not known (one read at a time per account). */
  const load = async (account: string): Promise<void> => {
    fresh()
    if (durable.has(account)) return
    const available = await reads.run(account, async () => (await ledger().balance(account)).available)
    if (!durable.has(account)) durable.set(account, available)
  }
  const takeHold = (account: string, amount: bigint): Hold | { ok: false; available: bigint } => {
    const available = spendable(account)
    if (available < amount) return { ok: false, available }
    addTo(pending, account, amount)
    return { account, amount, done: false }
  }

  /** Writes every charge queued in this turn of the event loop in one transaction. */
  const flush = async () => {
    const batch = queue
    queue = []
    let results: boolean[]
    try {
      // The items are the ledger's input as they are: `account` and `amount` are all it reads.
      results = await ledger().tab(batch)
      schedulePosting()
    } catch (error) {
      for (const item of batch) addTo(pending, item.account, -item.amount)
      for (const item of batch) tell(item, error, 0n)
      return
    }
    for (const [i, item] of batch.entries()) {
      addTo(pending, item.account, -item.amount)
      if (results[i]) addTo(durable, item.account, -item.amount)
      // The ledger had less than this process thought: another writer spent it.
      else durable.delete(item.account)
    }
    // Told once every figure of the batch is in, so each sees the balance after all of it.
    for (const [i, item] of batch.entries())
      tell(item, results[i] ? undefined : refused(), results[i] ? spendable(item.account) : 0n)
  }
  const schedule = groupCommit(() => queue.length, flush, { fillMs: () => ledger().tabFillMs ?? 0 })
  /** A callback that throws must not keep the others of its batch from being told. */
  const tell = (item: Pending, error: unknown, balance: bigint) => {
    try {
      item.done(item.context, error, balance)
    } catch {}
  }

  const chargeThen = <T>(hold: Hold, amount: bigint, context: T, done: Charged<T>) => {
    if (hold.done) return done(context, new Error('this hold was already charged or dropped'), 0n)
    hold.done = true
    // The unused part of the hold is free again; the charge stays pending until written.
    addTo(pending, hold.account, amount - hold.amount)
    if (amount === 0n) return done(context, undefined, spendable(hold.account))
    queue.push({ account: hold.account, amount, context, done: done as Charged<unknown> })
    schedule()
  }
  return {
    ledger,
    async accountFor(token) {
      if (!token.startsWith(tokenPrefix)) return undefined
      fresh()
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
    async available(account) {
      await load(account)
      return spendable(account)
    },
    async hold(account, amount) {
      await load(account)
      return takeHold(account, amount)
    },
    holdNow(token, amount) {
      fresh()
      const account = tokens.get(token)
      if (account === undefined || !durable.has(account)) return undefined
      return takeHold(account, amount)
    },
    charge: (hold, amount) =>
      new Promise<bigint>((resolve, reject) =>
        chargeThen(hold, amount, undefined, (_, error, balance) => (error ? reject(error) : resolve(balance))),
      ),
    chargeThen,
    drop(hold) {
      if (hold.done) return
      hold.done = true
      addTo(pending, hold.account, -hold.amount)
    },
    async reserve(account, amount, ttlMs, ref) {
      await load(account)
      const available = spendable(account)
      if (available < amount) return { ok: false, available }
      // Held in memory first, so a concurrent hold never sees this credit as free.
      addTo(pending, account, amount)
      try {
        const result = await ledger().reserve({ account, amount, ttlMs, ...(ref ? { ref } : {}) })
        if (!result.ok) {
          durable.set(account, result.available)
          return { ok: false, available: result.available - ((pending.get(account) ?? 0n) - amount) }
        }
        addTo(durable, account, -amount)
        return { ok: true, reservationId: result.reservationId }
      } finally {
        addTo(pending, account, -amount)
      }
    },
    async capture(account, reservationId, amount, events) {
      const { released } = await ledger().capture({ reservationId, amount, ...(events ? { events } : {}) })
      addTo(durable, account, released)
      await load(account)
      return spendable(account)
    },
    async release(account, reservationId, reason, events) {
      const { released } = await ledger().release({ reservationId, reason, ...(events ? { events } : {}) })
      addTo(durable, account, released)
      await load(account)
      return spendable(account)
    },
    extend: (reservationId, ttlMs) => ledger().extend({ reservationId, ttlMs }),
    async refund(account, amount, ref, reason) {
      const { replayed } = await ledger().refund({ account, amount, ref, reason })
      if (!replayed) addTo(durable, account, amount)
      await load(account)
      return spendable(account)
    },
    async revoke(token) {
      tokens.delete(token)
      return ledger().revokeToken(token)
    },
    async revokeTokensOf(account) {
      for (const [token, linked] of tokens) if (linked === account) tokens.delete(token)
      return ledger().revokeTokensOf(account)
    },
    async issue(account) {
      const { token, hash } = issueToken()
      await ledger().linkToken(hash, account)
      return token
    },
    accountOfPayment: (paymentId) => ledger().topUpAccount(paymentId),
    async topUp(account, amount, ref, events) {
      const { replayed } = await ledger().topUp({ account, amount, ref, ...(events ? { events } : {}) })
      if (!replayed) addTo(durable, account, amount)
      await load(account)
      return { balance: spendable(account), replayed }
    },
    grantOf: (ref) => ledger().grantOf(ref),
    async grant(account, amount, ref, note) {
      const { replayed } = await ledger().grant({ account, amount, ref, ...(note ? { note } : {}) })
      if (!replayed) addTo(durable, account, amount)
      await load(account)
      return spendable(account)
    },
    async adjust(account, amount, ref, reason) {
      const { replayed } = await ledger().adjust({ account, amount, ref, reason })
      if (!replayed) addTo(durable, account, amount)
      await load(account)
      return { balance: spendable(account), replayed }
    },
    async payout(account, amount, ref, events) {
      const { replayed } = await ledger().payout({ account, amount, ref, ...(events ? { events } : {}) })
      if (!replayed) addTo(durable, account, -amount)
      await load(account)
      return { balance: spendable(account), replayed }
    },
    async balance(account) {
      const { available, reserved } = await ledger().balance(account)
      return { available: available - (pending.get(account) ?? 0n), reserved }
    },
    entries: (account, limit) => ledger().entries(account, { limit }),
    async expire() {
      // Recovery: tabs left by a process that died before posting them are posted too. A tab
      // that cannot be posted is reported, after the reservations' expiry, which it does not hold back.
      let failure: unknown
      await ledger()
        .postTabs()
        .catch((error) => {
          failure = error
        })
      const count = await ledger().expireReservations()
      // Expired reservations went back to their callers: read the figures afresh.
      if (count > 0) reads.clear()
      if (failure) throw failure
      return count
    },
    close() {
      // Closed once: a second close() (two owners, a test's cleanup) waits for the first.
      closing ??= (async () => {
        while (queue.length) await flush()
        if (postTimer) {
          clearTimeout(postTimer)
          postTimer = undefined
          await opened?.postTabs().catch(() => {})
        }
        closed = true
        await opened?.close()
      })()
      return closing
    },
  }
}
export { hashToken }
