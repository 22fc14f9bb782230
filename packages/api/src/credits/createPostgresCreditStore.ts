import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import { ensureSchema } from '../postgres/migrate.js'
import { guarded, openPostgres, type Pg } from '../postgres/openPostgres.js'
import type { CreditStore } from '../stores/types.js'
import { outboxIdOf } from '../webhooks/outboxId.js'
import { ensureEventSchemas, postgresStoreEvents, writeStoreEvents } from '../webhooks/postgresStoreEvents.js'
import { callerOf, checkAmount, checkText, expiryBatch, holdOf, invalid, maxAmount } from './creditRows.js'
import { postgresCreditAdmin } from './postgresCreditAdmin.js'
import { postgresCreditLookups } from './postgresCreditLookups.js'
import { lockBalances, lockRef, type Movement, post, type Write } from './postgresCreditPosting.js'
import { creditSchema } from './postgresCreditSchema.js'
import { creditSignal } from './postgresCreditSignal.js'
import type { CreditAccount, CreditKind, Posted, RefInput } from './types.js'

export type PostgresCreditStoreOptions = (
  | {
      /** A PostgreSQL URL; the pool is shared with the process's other stores on it, and released by `close()`. */
      url: string
    }
  | {
      /** A pool of your own (`openPostgres`), left open by `close()`. */
      sql: Pg
    }
) & {
  /**
   * The clock (ms epoch) for reservation expiry and timestamps.
   * @default Date.now
   */
  now?: () => number
  /**
   * How long (ms) a batch of charges may wait to fill before its round trip (the group
   * commit's `fillMs`, stores/groupCommit.ts): up to as many charges as the last batch
   * carried, the callers it just answered coming back. `0` writes each batch at once.
   * @default 1
   */
  tabFillMs?: number
}

type ReservationRow = { id: string; account: string; amount: string; state: string; expires_at: bigint }

/** Deadlocks and serialization failures: the transaction did nothing, and running it again can pass. */
const retryable = (error: unknown) => ['40P01', '40001'].includes((error as { code?: string })?.code ?? '')

/**
 * The prepaid credit ledger on PostgreSQL, for instances that share one database: the
 * SQLite ledger's double-entry books (`createCreditLedger`), each movement one transaction.
 * A movement locks the caller's balance rows (`SELECT … FOR UPDATE`, in account order)
 * before it decides, so no caller balance goes negative across processes, and two movements
 * never wait on each other in a cycle (the rare deadlock left, two transactions creating the
 * same first balance row, is run again). `tab` posts its charges at once (`postTabs` returns `0n`). `version()`
 * counts the other writers' commits, as `LISTEN` reports them (postgresCreditSignal.ts).
 *
 * @example
 * const credits = createPostgresCreditStore({ url: process.env.X402_DATABASE_URL! })
 * const paywall = createPaywall({ price: 0.01, credits: {}, stores: { credits } })
 */
export function createPostgresCreditStore(options: PostgresCreditStoreOptions): CreditStore {
  const clock = options.now ?? Date.now
  const tabFillMs = options.tabFillMs ?? 1
  if (!Number.isFinite(tabFillMs) || tabFillMs < 0)
    throw new X402Error('invalid_config', {
      message: `tabFillMs is ${tabFillMs}: give the milliseconds a batch of charges may wait to fill (0 for none)`,
      details: { option: 'tabFillMs' },
    })
  const opened = 'url' in options ? openPostgres(options.url, 'X402_DATABASE_URL') : undefined
  const sql = opened?.sql ?? (options as { sql: Pg }).sql
  const signal = creditSignal(sql)
  // Webhook events go straight into the ledger's outbox when the ledger is in this database.
  const self = outboxIdOf('url' in options ? { url: options.url } : undefined)
  let closed = false

  /** Runs `fn` once the schema is there, any database failure as `store_unavailable`. */
  const call = <T>(fn: () => Promise<T>): Promise<T> =>
    guarded(sql, 'credit', async () => {
      if (closed) throw new X402Error('store_unavailable', { message: 'the PostgreSQL credit store was closed' })
      await ensureSchema(sql, creditSchema)
      await ensureEventSchemas(sql)
      await signal.ready()
      return fn()
    })
  /** One transaction (run again after a deadlock); it notifies the other store objects if it wrote. */
  const write = <T>(fn: (w: Write) => Promise<T>): Promise<T> =>
    call(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await sql.begin(async (tx) => {
            const w: Write = { tx, locked: new Map(), changed: false }
            const result = await fn(w)
            if (w.changed) await signal.notify(tx, w)
            return result
          })) as T
        } catch (error) {
          if (attempt >= 3 || !retryable(error)) throw error
        }
      }
    })

  const checkRefInput = (input: RefInput) => {
    checkText(input.account, 'account')
    checkAmount(input.amount, 'amount', 1n)
    checkText(input.ref, 'ref')
  }
  /**
   * The earlier posting of `ref` as a replay, if the same account and amount; refuses a
   * different one. Concurrent postings of one ref wait for each other here.
   */
  const replayOf = async (w: Write, kind: CreditKind, input: RefInput): Promise<Posted | undefined> => {
    await lockRef(w, kind, input.ref)
    const [existing] = await w.tx<{ id: bigint; account: string; amount: string }[]>`
      select id, account, amount::text as amount from x402_credit_transactions where kind = ${kind} and ref = ${input.ref}`
    if (!existing) return undefined
    if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
      throw invalid(
        `ref \`${input.ref}\` was already used for a ${kind} of ${existing.amount} to \`${existing.account}\`: pass a new ref for a different ${kind}`,
        { ref: input.ref },
      )
    return { transactionId: Number(existing.id), replayed: true }
  }
  const movement =
    (kind: CreditKind, ref: string, account: string, amount: bigint, note: string | null) =>
    (postings: [CreditAccount, bigint][]): Movement => ({ kind, ref, account, amount, note, postings })

  const credit =
    (kind: 'top_up' | 'grant' | 'refund', from: CreditAccount) =>
    async (input: RefInput): Promise<Posted> => {
      checkRefInput(input)
      return write(async (w) => {
        const replayed = await replayOf(w, kind, input)
        if (replayed) return replayed
        const caller = callerOf(input.account)
        const note = input.note ?? input.reason ?? null
        const [id] = await post(
          w,
          [
            movement(
              kind,
              input.ref,
              input.account,
              input.amount,
              note,
            )([
              [from, -input.amount],
              [caller, input.amount],
            ]),
          ],
          clock(),
        )
        // A caller balance is at most 2^63 - 1, as on SQLite: past it is bad input (the
        // transaction is rolled back), not an outage.
        if ((w.locked.get(caller) ?? 0n) > maxAmount)
          throw invalid(
            `a ${kind.replace('_', '-')} of ${input.amount} would take a balance past 2^63 atomic units: give a smaller amount`,
            { ref: input.ref },
          )
        await writeStoreEvents(w.tx, input.events, self)
        return { transactionId: id as number, replayed: false }
      })
    }

  /** Moves held reservations to `to`: `captured` to revenue, the rest back to the caller. */
  const settle = async (
    w: Write,
    rows: ReservationRow[],
    to: 'captured' | 'released' | 'expired',
    captured: bigint,
    reason: string,
  ) => {
    const now = clock()
    await lockBalances(
      w,
      rows.flatMap((r) => [callerOf(r.account), holdOf(r.account)]),
    )
    await w.tx`update x402_credit_reservations
      set state = ${to}, captured = ${to === 'captured' ? String(captured) : null}::numeric, reason = ${reason}, settled_at = ${now}::bigint
      where id = any(${rows.map((r) => r.id)}::text[]) and state = 'held'`
    const kind = to === 'captured' ? 'capture' : to === 'released' ? 'release' : 'expire'
    await post(
      w,
      rows.map((r) => {
        const reserved = BigInt(r.amount)
        return movement(
          kind,
          r.id,
          r.account,
          to === 'captured' ? captured : reserved,
          reason,
        )([
          [holdOf(r.account), -reserved],
          ['system:revenue', captured],
          [callerOf(r.account), reserved - captured],
        ])
      }),
      now,
    )
  }
  /** A held reservation, locked; refuses an unknown one, one settled already, or a capture past it. */
  const heldReservation = async (w: Write, id: string, captured: bigint) => {
    const [row] = await w.tx<ReservationRow[]>`
      select id, account, amount::text as amount, state, expires_at from x402_credit_reservations where id = ${id} for update`
    if (!row) throw invalid(`no reservation \`${id}\`: pass the reservationId that reserve() returned`, { id })
    if (row.state !== 'held')
      throw invalid(
        `reservation \`${id}\` was already ${row.state}: a reservation is captured or released once only; reserve again`,
        { id, state: row.state },
      )
    // Past its expiry but still held (expiry has not released it yet): the money is still
    // there, so it may be captured; once released by expiry it cannot.
    if (captured > BigInt(row.amount))
      throw invalid(
        `cannot capture ${captured} of reservation \`${id}\`, which holds ${row.amount}: capture at most that`,
        {
          id,
          reserved: row.amount,
        },
      )
    return row
  }

  return {
    topUp: credit('top_up', 'system:topups'),
    grant: credit('grant', 'system:grants'),
    refund: credit('refund', 'system:revenue'),
    payout: async (input) => {
      checkRefInput(input)
      return write(async (w) => {
        const replayed = await replayOf(w, 'payout', input)
        if (replayed) return replayed
        const caller = callerOf(input.account)
        const available = (await lockBalances(w, [caller])).get(caller) ?? 0n
        if (available < input.amount)
          throw invalid(
            `insufficient credit: cannot pay out ${input.amount} from \`${input.account}\`, whose available credit is ${available} (reserved credit is not paid out): pay out at most ${available}`,
            { reason: 'insufficient_credit', available: String(available), amount: String(input.amount) },
          )
        const [id] = await post(
          w,
          [
            movement(
              'payout',
              input.ref,
              input.account,
              input.amount,
              input.note ?? null,
            )([
              [caller, -input.amount],
              ['system:payouts', input.amount],
            ]),
          ],
          clock(),
        )
        await writeStoreEvents(w.tx, input.events, self)
        return { transactionId: id as number, replayed: false }
      })
    },
    reserve: async (input) => {
      checkText(input.account, 'account')
      checkAmount(input.amount, 'amount', 1n)
      if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs <= 0)
        throw invalid(`ttlMs must be a positive whole number of milliseconds, got ${input.ttlMs}`)
      if (input.ref !== undefined) checkText(input.ref, 'ref')
      return write(async (w) => {
        if (input.ref !== undefined) {
          await lockRef(w, 'reservation', input.ref)
          const [existing] = await w.tx<ReservationRow[]>`
            select id, account, amount::text as amount, state, expires_at from x402_credit_reservations where ref = ${input.ref}`
          if (existing) {
            if (existing.account !== input.account || BigInt(existing.amount) !== input.amount)
              throw invalid(`ref \`${input.ref}\` was already used for another reservation: pass a new ref`, {
                ref: input.ref,
              })
            return { ok: true as const, reservationId: existing.id, expiresAt: Number(existing.expires_at) }
          }
        }
        const caller = callerOf(input.account)
        const available = (await lockBalances(w, [caller, holdOf(input.account)])).get(caller) ?? 0n
        if (available < input.amount) return { ok: false as const, reason: 'insufficient_credit' as const, available }
        const id = `rsv_${randomUUID()}`
        const now = clock()
        const expiresAt = now + input.ttlMs
        await w.tx`insert into x402_credit_reservations (id, account, amount, ref, state, created_at, expires_at)
          values (${id}, ${input.account}, ${String(input.amount)}::numeric, ${input.ref ?? null}, 'held', ${now}::bigint, ${expiresAt}::bigint)`
        await post(
          w,
          [
            movement(
              'reserve',
              id,
              input.account,
              input.amount,
              null,
            )([
              [caller, -input.amount],
              [holdOf(input.account), input.amount],
            ]),
          ],
          now,
        )
        return { ok: true as const, reservationId: id, expiresAt }
      })
    },
    capture: async ({ reservationId, amount, events }) => {
      checkText(reservationId, 'reservationId')
      checkAmount(amount, 'amount', 0n)
      return write(async (w) => {
        const row = await heldReservation(w, reservationId, amount)
        await settle(w, [row], 'captured', amount, 'captured')
        await writeStoreEvents(w.tx, events, self)
        return { captured: amount, released: BigInt(row.amount) - amount }
      })
    },
    extend: async ({ reservationId, ttlMs }) => {
      checkText(reservationId, 'reservationId')
      // Only ever later, and only while held (a row expiry is settling is waited for, then read again).
      return call(async () => {
        const rows =
          await sql`update x402_credit_reservations set expires_at = greatest(expires_at, ${clock() + ttlMs}::bigint)
          where id = ${reservationId} and state = 'held' returning id`
        return rows.length === 1
      })
    },
    release: async ({ reservationId, reason, events }) => {
      checkText(reservationId, 'reservationId')
      checkText(reason, 'reason')
      return write(async (w) => {
        const row = await heldReservation(w, reservationId, 0n)
        await settle(w, [row], 'released', 0n, reason)
        await writeStoreEvents(w.tx, events, self)
        return { released: BigInt(row.amount) }
      })
    },
    tab: async (items) => {
      for (const item of items) {
        checkText(item.account, 'account')
        checkAmount(item.amount, 'amount', 1n)
      }
      if (items.length === 0) return []
      // One statement, one round trip (postgresCreditSchema.ts, version 2): the hot path's
      // group commit; a deadlock (two first balance rows at once) is run again.
      return call(async () => {
        const { channel, self } = await signal.target()
        const accounts = items.map((i) => i.account)
        const amounts = items.map((i) => String(i.amount))
        for (let attempt = 1; ; attempt++) {
          try {
            const [row] = await sql<{ r: boolean[] }[]>`
              select x402_credit_tab(${accounts}::text[], ${amounts}::numeric[], ${clock()}::bigint,
                ${channel}, ${self}) as r`
            return (row as { r: boolean[] }).r
          } catch (error) {
            if (attempt >= 3 || !retryable(error)) throw error
          }
        }
      })
    },
    postTabs: async (account) => {
      if (account !== undefined) checkText(account, 'account')
      return call(async () => 0n)
    },
    expireReservations: (at = clock()) =>
      call(async () => {
        let count = 0
        for (;;) {
          // Two instances expiring at once take different reservations (SKIP LOCKED), and a
          // reservation being captured is left to its capture.
          const batch = await write(async (w) => {
            const rows = await w.tx<ReservationRow[]>`
              select id, account, amount::text as amount, state, expires_at from x402_credit_reservations
              where state = 'held' and expires_at <= ${at}::bigint
              order by expires_at limit ${expiryBatch} for update skip locked`
            if (rows.length > 0) await settle(w, rows, 'expired', 0n, 'expired')
            return rows.length
          })
          count += batch
          if (batch < expiryBatch) return count
        }
      }),
    ...postgresCreditLookups(sql, call, write, clock),
    ...postgresCreditAdmin(sql, call, write, clock),
    webhookEvents: postgresStoreEvents(sql, 'credit'),
    tabFillMs,
    version: () => signal.version(),
    changes: () => signal.changes(),
    async close() {
      if (closed) return
      closed = true
      await signal.close()
      await opened?.release()
    },
  }
}
