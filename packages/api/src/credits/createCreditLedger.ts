import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { X402Error } from '@402x/core'
import { immediately, openSqlite } from '../ledger/openSqlite.js'
import { applySqliteSchema } from '../stores/sqliteSchema.js'
import { outboxIdOf } from '../webhooks/outboxId.js'
import { sqliteStoreEvents } from '../webhooks/sqliteStoreEvents.js'
import { creditQueries } from './creditQueries.js'
import {
  callerOf,
  checkAmount,
  checkText,
  type EntryRow,
  entryOf,
  expiryBatch,
  holdOf,
  invalid,
  maxAmount,
  type ReservationRow,
  type SqlitePost,
  storeFault,
  type TxRow,
} from './creditRows.js'
import { creditTokens } from './creditTokens.js'
import { sqliteCreditComponent } from './schema.js'
import { sqliteCreditAdmin } from './sqliteCreditAdmin.js'
import { sqliteCreditTabs } from './sqliteCreditTabs.js'
import type { CreditAccount, CreditBalance, CreditKind, CreditLedger, Posted, RefInput } from './types.js'

export type CreditLedgerOptions = {
  /** File path, or `:memory:`. May be the payments ledger's file: the tables do not overlap. */
  path: string
  /**
   * `normal` (WAL): a commit survives a crash of the process; `full` also survives power loss,
   * at an fsync per commit.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full'
  /**
   * The clock (ms epoch) for reservation expiry and timestamps.
   * @default Date.now
   */
  now?: () => number
}

/**
 * The prepaid credit ledger: double-entry bookkeeping in SQLite (WAL). Every operation is one
 * `BEGIN IMMEDIATE` transaction whose entries sum to zero, and updates the cached balances in
 * the same transaction; a reservation or a payout debits the caller only when its available
 * balance covers it, so concurrent callers (threads, processes) never overdraw.
 *
 * @example
 * const credits = createCreditLedger({ path: '.402x/credits.db' })
 * await credits.topUp({ account: '0xabc…', amount: 5_000_000n, ref: paymentId })
 * const hold = await credits.reserve({ account: '0xabc…', amount: 10_000n, ttlMs: 60_000 })
 * if (hold.ok) await credits.capture({ reservationId: hold.reservationId, amount: 7_000n })
 */
export function createCreditLedger(options: CreditLedgerOptions): CreditLedger {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
  const clock = options.now ?? Date.now
  const db = openSqlite(options.path)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
  applySqliteSchema(db, sqliteCreditComponent)
  // Webhook events, written in the transaction of the movement they report.
  const relay = sqliteStoreEvents(db, outboxIdOf({ path: options.path }))

  const q = creditQueries(db)

  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn())
    } catch (error) {
      return Promise.reject(error instanceof X402Error ? error : storeFault(error))
    }
  }
  // Two connections never both read a balance and then both write it (openSqlite.ts).
  const atomically = <T>(fn: () => T): T => immediately(db, fn)
  const balanceOf = (account: CreditAccount) =>
    BigInt((q.balance.get(account) as { balance: string } | undefined)?.balance ?? 0)
  /** Available and reserved credit, from one snapshot (a deferred read transaction). */
  const readBalance = (account: string): CreditBalance => {
    db.exec('BEGIN')
    try {
      return { available: availableOf(account), reserved: balanceOf(holdOf(account)) }
    } finally {
      db.exec('COMMIT')
    }
  }
  /** A caller's spendable credit: its balance less its unposted tab, read in one statement. */
  const availableOf = (account: string) =>
    BigInt((q.available.get({ account: callerOf(account) }) as { available: string }).available)
  /**
   * Writes one transaction. Each posting is `[account, amount, alreadyApplied?]`; postings of
   * 0 are skipped. The caller keeps the sum at zero.
   */
  const post: SqlitePost = (kind, ref, account, amount, note, postings) => {
    const now = clock()
    const { id } = q.insertTx.get({ kind, ref, account, amount: String(amount), note, now }) as { id: number }
    for (const [target, delta, applied] of postings) {
      if (delta === 0n) continue
      q.insertEntry.run({ tx: id, account: target, amount: String(delta), now })
      if (applied) continue
      const params = { account: target, amount: String(delta) }
      if (Number(q.addToBalance.run(params).changes) === 0) q.openBalance.run(params)
    }
    return id
  }

  const { postTab, postTabs } = sqliteCreditTabs(q, atomically, post)

  const checkRefInput = (input: RefInput) => {
    checkText(input.account, 'account')
    checkAmount(input.amount, 'amount', 1n)
    checkText(input.ref, 'ref')
  }

  /** The earlier posting of `ref` as a replay, if the same account and amount; refuses a different one. */
  const replayOf = (kind: CreditKind, input: RefInput): Posted | undefined => {
    const existing = q.txByRef.get(kind, input.ref) as TxRow | undefined
    if (!existing) return undefined
    if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
      throw invalid(
        `ref \`${input.ref}\` was already used for a ${kind} of ${existing.amount} to \`${existing.account}\`: pass a new ref for a different ${kind}`,
        { ref: input.ref },
      )
    return { transactionId: existing.id, replayed: true }
  }

  const credit =
    (kind: 'top_up' | 'grant' | 'refund', from: CreditAccount) =>
    (input: RefInput): Promise<Posted> =>
      guard(() => {
        checkRefInput(input)
        return atomically(() => {
          const replayed = replayOf(kind, input)
          if (replayed) return replayed
          // Every balance is a 64-bit integer: a credit that would take one past it is bad
          // input, refused before anything is written (not a failed CHECK, read as an outage).
          if (
            balanceOf(callerOf(input.account)) + input.amount > maxAmount ||
            balanceOf(from) - input.amount < -maxAmount
          )
            throw invalid(
              `a ${kind.replace('_', '-')} of ${input.amount} would take a balance past 2^63 atomic units: give a smaller amount`,
              { ref: input.ref },
            )
          const note = input.note ?? input.reason ?? null
          const id = post(kind, input.ref, input.account, input.amount, note, [
            [from, -input.amount],
            [callerOf(input.account), input.amount],
          ])
          relay.write(input.events)
          return { transactionId: id, replayed: false }
        })
      })

  /** Moves a held reservation to `to`: `captured` to revenue, the rest back to the caller. */
  const settle = (id: string, to: 'captured' | 'released' | 'expired', captured: bigint, reason: string) => {
    const now = clock()
    const row = q.reservationById.get(id) as ReservationRow | undefined
    if (!row) throw invalid(`no reservation \`${id}\`: pass the reservationId that reserve() returned`, { id })
    if (row.state !== 'held')
      throw invalid(
        `reservation \`${id}\` was already ${row.state}: a reservation is captured or released once only; reserve again`,
        { id, state: row.state },
      )
    const reserved = BigInt(row.amount)
    // Past its expiry but still held (expiry has not released it yet): the money is still
    // there, so it may be captured; once released by expiry it cannot.
    if (captured > reserved)
      throw invalid(
        `cannot capture ${captured} of reservation \`${id}\`, which holds ${reserved}: capture at most that`,
        {
          id,
          reserved: String(reserved),
        },
      )
    q.settleReservation.run({ id, to, captured: to === 'captured' ? String(captured) : null, reason, now })
    const kind = to === 'captured' ? 'capture' : to === 'released' ? 'release' : 'expire'
    post(kind, id, row.account, to === 'captured' ? captured : reserved, reason, [
      [holdOf(row.account), -reserved],
      ['system:revenue', captured],
      [callerOf(row.account), reserved - captured],
    ])
    return reserved
  }

  const dataVersion = () => Number(q.dataVersion.get()?.data_version ?? 0)
  return {
    topUp: credit('top_up', 'system:topups'),
    grant: credit('grant', 'system:grants'),
    refund: credit('refund', 'system:revenue'),
    payout: (input) =>
      guard(() => {
        checkRefInput(input)
        return atomically(() => {
          const replayed = replayOf('payout', input)
          if (replayed) return replayed
          const debited = q.debitIfCovered.run({ account: callerOf(input.account), amount: String(input.amount) })
          if (Number(debited.changes) !== 1) {
            const available = availableOf(input.account)
            throw invalid(
              `insufficient credit: cannot pay out ${input.amount} from \`${input.account}\`, whose available credit is ${available} (reserved credit is not paid out): pay out at most ${available}`,
              { reason: 'insufficient_credit', available: String(available), amount: String(input.amount) },
            )
          }
          const id = post('payout', input.ref, input.account, input.amount, input.note ?? null, [
            [callerOf(input.account), -input.amount, 'applied'],
            ['system:payouts', input.amount],
          ])
          relay.write(input.events)
          return { transactionId: id, replayed: false }
        })
      }),
    reserve: (input) =>
      guard(() => {
        checkText(input.account, 'account')
        checkAmount(input.amount, 'amount', 1n)
        if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs <= 0)
          throw invalid(`ttlMs must be a positive whole number of milliseconds, got ${input.ttlMs}`)
        if (input.ref !== undefined) checkText(input.ref, 'ref')
        return atomically(() => {
          if (input.ref !== undefined) {
            const existing = q.reservationByRef.get(input.ref) as ReservationRow | undefined
            if (existing) {
              if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
                throw invalid(`ref \`${input.ref}\` was already used for another reservation: pass a new ref`, {
                  ref: input.ref,
                })
              return { ok: true as const, reservationId: existing.id, expiresAt: existing.expires_at }
            }
          }
          const amount = String(input.amount)
          const debited = q.debitIfCovered.run({ account: callerOf(input.account), amount })
          if (Number(debited.changes) !== 1)
            return {
              ok: false as const,
              reason: 'insufficient_credit' as const,
              available: availableOf(input.account),
            }
          const id = `rsv_${randomUUID()}`
          const now = clock()
          const expiresAt = now + input.ttlMs
          q.insertReservation.run({ id, account: input.account, amount, ref: input.ref ?? null, now, expiresAt })
          post('reserve', id, input.account, input.amount, null, [
            [callerOf(input.account), -input.amount, 'applied'],
            [holdOf(input.account), input.amount],
          ])
          return { ok: true as const, reservationId: id, expiresAt }
        })
      }),
    capture: ({ reservationId, amount, events }) =>
      guard(() => {
        checkText(reservationId, 'reservationId')
        checkAmount(amount, 'amount', 0n)
        return atomically(() => {
          const reserved = BigInt((q.reservationById.get(reservationId) as ReservationRow | undefined)?.amount ?? 0)
          settle(reservationId, 'captured', amount, 'captured')
          relay.write(events)
          return { captured: amount, released: reserved - amount }
        })
      }),
    extend: ({ reservationId, ttlMs }) =>
      guard(() => {
        checkText(reservationId, 'reservationId')
        const row = q.reservationById.get(reservationId) as ReservationRow | undefined
        if (row?.state !== 'held') return false
        q.extendReservation.run({ id: reservationId, expiresAt: clock() + ttlMs })
        return true
      }),
    release: ({ reservationId, reason, events }) =>
      guard(() => {
        checkText(reservationId, 'reservationId')
        checkText(reason, 'reason')
        const released = atomically(() => {
          const reserved = settle(reservationId, 'released', 0n, reason)
          relay.write(events)
          return reserved
        })
        return { released }
      }),
    tab: (items) =>
      guard(() => {
        for (const item of items) {
          checkText(item.account, 'account')
          checkAmount(item.amount, 'amount', 1n)
        }
        if (items.length === 0) return []
        return atomically(() => {
          // One write per caller when its credit covers all of its charges (the usual case);
          // otherwise charge by charge, in order, as far as it goes.
          const byAccount = new Map<string, { amount: bigint; charges: number }>()
          for (const { account, amount } of items) {
            const sum = byAccount.get(account) ?? { amount: 0n, charges: 0 }
            byAccount.set(account, { amount: sum.amount + amount, charges: sum.charges + 1 })
          }
          const covered = new Set<string>()
          for (const [account, sum] of byAccount) {
            const params = { account: callerOf(account), amount: String(sum.amount), charges: sum.charges }
            if (Number(q.addToTab.run(params).changes) === 1) covered.add(account)
          }
          return items.map(
            ({ account, amount }) =>
              covered.has(account) ||
              Number(q.addToTab.run({ account: callerOf(account), amount: String(amount), charges: 1 }).changes) === 1,
          )
        })
      }),
    postTabs: (account) =>
      guard(() => {
        if (account !== undefined) checkText(account, 'account')
        return postTabs(account)
      }),
    expireReservations: (now = clock()) =>
      guard(() => {
        let count = 0
        for (;;) {
          const batch = atomically(() => {
            const ids = (q.expired.all(now, expiryBatch) as { id: string }[]).map((r) => r.id)
            for (const id of ids) settle(id, 'expired', 0n, 'expired')
            return ids.length
          })
          count += batch
          if (batch < expiryBatch) return count
        }
      }),
    topUpAccount: (ref) => guard(() => (q.txByRef.get('top_up', ref) as TxRow | undefined)?.account),
    grantOf: (ref) =>
      guard(() => {
        const row = q.txByRef.get('grant', ref) as TxRow | undefined
        return row && { account: row.account, amount: BigInt(row.amount) }
      }),
    dataVersion,
    webhookEvents: relay.source,
    // The store's change signal is SQLite's data_version: it moves when another connection commits.
    version: dataVersion,
    balance: (account) =>
      guard(() => {
        checkText(account, 'account')
        return readBalance(account)
      }),
    entries: (account, { limit = 100 } = {}) =>
      guard(() => {
        checkText(account, 'account')
        // The statement is complete: the caller's tab is posted first (a tab that cannot be
        // posted stays on the tab, counted in the balance, and the entries are still listed).
        if (q.tabOf.get(callerOf(account)))
          try {
            postTab(callerOf(account))
          } catch {}
        const rows = q.entries.all(callerOf(account), holdOf(account), limit) as EntryRow[]
        return rows.map(entryOf)
      }),
    ...creditTokens(q, guard, clock),
    ...sqliteCreditAdmin(db, { guard, atomically, post, availableOf }),
    close: () => guard(() => void db.close()),
  }
}
