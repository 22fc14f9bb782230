import { X402Error } from '@402x/core'
import { openPostgresStore, type PostgresStoreOptions } from '../stores/openPostgresStore.js'
import { outboxIdOf } from '../webhooks/outboxId.js'
import { createPostgresOutbox, insertEvents } from '../webhooks/postgresOutbox.js'
import { checkQuery, pageOf } from './paymentQuery.js'
import { ledgerSchema } from './postgresLedgerSchema.js'
import type { Ledger, PaymentRecord, PaymentState } from './types.js'
import { transitions } from './types.js'

/** Where the ledger's pool comes from: a URL (opened here, released by `close()`) or a pool. */
export type PostgresLedgerOptions = PostgresStoreOptions

type Row = {
  seq: bigint
  id: string
  state: PaymentState
  created_at: bigint
  updated_at: bigint
  network: string
  asset: string
  pay_to: string
  payer: string
  nonce: string
  amount: string
  valid_before: bigint
  method: string
  resource: string
  tx_hash: string | null
  reason: string | null
  message: string | null
  payload: string
  requirements: string
  undelivered: boolean
}

const toRecord = (row: Row): PaymentRecord => ({
  id: row.id,
  state: row.state,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
  network: row.network,
  asset: row.asset,
  payTo: row.pay_to,
  payer: row.payer,
  nonce: row.nonce,
  amount: row.amount,
  validBefore: Number(row.valid_before),
  method: row.method,
  resource: row.resource,
  ...(row.tx_hash ? { transaction: row.tx_hash } : {}),
  ...(row.reason ? { reason: row.reason } : {}),
  ...(row.message ? { message: row.message } : {}),
  ...(row.undelivered ? { undelivered: true } : {}),
  payload: row.payload,
  requirements: row.requirements,
})

/** The columns read back (of table `t`), the amount as text: exact, whatever its size. */
const columnsOf = (t: string) =>
  [
    ...['seq', 'id', 'state', 'created_at', 'updated_at', 'network', 'asset', 'pay_to', 'payer', 'nonce'],
    ...['valid_before', 'method', 'resource', 'tx_hash', 'reason', 'message', 'payload', 'requirements'],
    'undelivered',
  ]
    .map((c) => `${t}.${c}`)
    .concat(`${t}.amount::text as amount`)
    .join(', ')
const columns = columnsOf('x402_payments')

/** For each state, the states a payment may move to it from (`transitions` read backwards). */
const allStates = Object.keys(transitions) as PaymentState[]
const movesTo = new Map(allStates.map((to) => [to, allStates.filter((from) => transitions[from].includes(to))]))

const checkStates = (states: readonly PaymentState[]) => {
  for (const state of states) {
    if (!Object.hasOwn(transitions, state))
      throw new X402Error('invalid_request', { message: `no payment state "${state}"` })
  }
}

/** Oldest first, in insertion order among equal times (as SQLite's rowid). */
const oldestFirst = (rows: Row[]) =>
  rows.sort((x, y) => (x.created_at === y.created_at ? Number(x.seq - y.seq) : Number(x.created_at - y.created_at)))

/**
 * The payments ledger on PostgreSQL: every instance of a seller shares it. A payment is
 * committed before it is acknowledged; the replay guard is a partial unique index on the live
 * (network, asset, payer, nonce), each move one conditional `UPDATE`, so every guarantee of
 * `PaymentLedger` holds across instances. Times are the instance's ms epochs (as SQLite's),
 * the recovery lease the database's clock.
 *
 * @example
 * const ledger = createPostgresLedger({ url: process.env.X402_DATABASE_URL! })
 * const paywall = createPaywall({ price: 0.01, ledger })
 */
export function createPostgresLedger(options: PostgresLedgerOptions): Ledger {
  const { sql, run, close } = openPostgresStore(options, 'ledger', ledgerSchema)
  const outbox = createPostgresOutbox(sql, run, outboxIdOf('url' in options ? { url: options.url } : undefined))
  return {
    insert: (p) =>
      run(async () => {
        const now = Date.now()
        // No conflict target: a known id and a live authorization are both refused, as the
        // SQLite ledger's unique indexes do; concurrent inserts wait on each other's index entry.
        const rows = await sql`insert into x402_payments
          (id, state, created_at, updated_at, network, asset, pay_to, payer, nonce, amount, valid_before,
           method, resource, tx_hash, reason, message, payload, requirements)
          values (${p.id}, ${p.state}, ${now}, ${now}, ${p.network}, ${p.asset.toLowerCase()}, ${p.payTo},
            ${p.payer.toLowerCase()}, ${p.nonce.toLowerCase()}, ${p.amount}::numeric, ${p.validBefore},
            ${p.method}, ${p.resource}, ${p.transaction ?? null}, ${p.reason ?? null}, ${p.message ?? null},
            ${p.payload}, ${p.requirements})
          on conflict do nothing
          returning id`
        return rows.length === 1
      }),
    transition: (id, to, update = {}) =>
      run(async () => {
        const from = movesTo.get(to)
        if (!from || from.length === 0) return false
        const build = outbox.paymentEvents
        // One conditional write: of concurrent moves from one state, the others find the row
        // moved once its lock is theirs (READ COMMITTED re-checks the WHERE) and change nothing.
        // A move a webhook reports writes its event in the same transaction.
        const move = (tx: typeof sql) => tx<Row[]>`update x402_payments set state = ${to}, updated_at = ${Date.now()},
            tx_hash = coalesce(${update.transaction ?? null}, tx_hash),
            reason = coalesce(${update.reason ?? null}, reason),
            message = coalesce(${update.message ?? null}, message),
            undelivered = undelivered or ${update.undelivered === true}
          where id = ${id} and state in ${tx(from)}
          returning ${build ? tx.unsafe(columns) : tx.unsafe('id')}`
        if (!build || !reportedStates.has(to)) return (await move(sql)).length === 1
        return sql.begin(async (tx) => {
          const [row] = await move(tx as unknown as typeof sql)
          if (row) await insertEvents(tx, build(toRecord(row)))
          return row !== undefined
        })
      }),
    get: (id) =>
      run(async () => {
        const [row] = await sql<Row[]>`select ${sql.unsafe(columns)} from x402_payments where id = ${id}`
        return row ? toRecord(row) : undefined
      }),
    findByNonce: (network, asset, payer, nonce) =>
      run(async () => {
        const [row] = await sql<Row[]>`select ${sql.unsafe(columns)} from x402_payments
          where network = ${network} and asset = ${asset.toLowerCase()} and payer = ${payer.toLowerCase()}
            and nonce = ${nonce.toLowerCase()}
            and state in ('verified', 'settling', 'settled', 'pending', 'reconciled')`
        return row ? toRecord(row) : undefined
      }),
    listByState: (states, olderThan = Number.MAX_SAFE_INTEGER) =>
      run(async () => {
        checkStates(states)
        if (states.length === 0) return []
        const rows = await sql<Row[]>`select ${sql.unsafe(columns)} from x402_payments
          where state in ${sql(states as PaymentState[])} and updated_at < ${olderThan}
          order by created_at, seq`
        return rows.map(toRecord)
      }),
    claimStale: (states, olderThan, owner, leaseMs, limit) =>
      run(async () => {
        checkStates(states)
        if (states.length === 0) return []
        // The rows are locked as they are picked, and rows another claim (or a request's move)
        // has locked are skipped rather than waited for: two claims at once split the stale
        // rows between them. A row whose lease was taken since this statement's snapshot is
        // re-checked once locked (READ COMMITTED), so it is not taken twice either. The lease
        // runs on the database's clock, the same for every instance.
        const rows = await sql<Row[]>`with stale as (
            select id from x402_payments
            where state in ${sql(states as PaymentState[])} and updated_at < ${olderThan}
              and (lease_until is null or lease_until <= clock_timestamp() or lease_owner = ${owner})
            order by created_at, seq
            limit ${limit ?? null}
            for update skip locked
          )
          update x402_payments p
          set lease_owner = ${owner}, lease_until = clock_timestamp() + ${leaseMs} * interval '1 millisecond'
          from stale where p.id = stale.id
          returning ${sql.unsafe(columnsOf('p'))}`
        return oldestFirst([...rows]).map(toRecord)
      }),
    setUndelivered: (id, undelivered) =>
      run(async () => {
        const rows = await sql`update x402_payments set undelivered = ${undelivered}, updated_at = ${Date.now()}
          where id = ${id} and undelivered = ${!undelivered}
          returning id`
        return rows.length === 1
      }),
    payerStats: (payer, since) =>
      run(async () => {
        // `numeric` sums exactly, whatever the amounts; read back as text, then a bigint.
        const rows = await sql<{ asset: string; count: number; amount: string }[]>`
          select asset, count(*)::int as count, sum(amount)::text as amount from x402_payments
          where payer = ${payer.toLowerCase()} and created_at >= ${since}
            and state in ('settled', 'pending', 'reconciled')
          group by asset order by asset`
        return rows.map((r) => ({ asset: r.asset, count: r.count, amount: BigInt(r.amount) }))
      }),
    list: ({ limit = 100 } = {}) =>
      run(async () => {
        const rows = await sql<Row[]>`select ${sql.unsafe(columns)} from x402_payments
          order by seq desc limit ${limit}`
        return rows.map(toRecord)
      }),
    query: (query) =>
      run(async () => {
        const q = checkQuery(query)
        // Keyset pages on `seq` (the insertion order): a page starts after a fixed row.
        const filters = [
          q.after !== undefined
            ? q.newest
              ? sql`seq < ${String(q.after)}::bigint`
              : sql`seq > ${String(q.after)}::bigint`
            : undefined,
          q.payer !== undefined ? sql`payer = ${q.payer}` : undefined,
          q.states ? sql`state in ${sql(q.states as PaymentState[])}` : undefined,
          query.resource !== undefined ? sql`strpos(resource, ${query.resource}) > 0` : undefined,
          query.from !== undefined ? sql`created_at >= ${query.from}` : undefined,
          query.to !== undefined ? sql`created_at < ${query.to}` : undefined,
        ].filter((f) => f !== undefined)
        const where = filters.reduce((all, f, i) => (i === 0 ? sql`where ${f}` : sql`${all} and ${f}`), sql``)
        const rows = await sql<Row[]>`select ${sql.unsafe(columns)} from x402_payments ${where}
          order by seq ${q.newest ? sql`desc` : sql`asc`} limit ${q.limit + 1}`
        return pageOf([...rows], q.limit, q.newest, (row) => row.seq, toRecord)
      }),
    outbox,
    close,
  }
}

/** The states whose moves a webhook may report (payment.settled, .pending, .failed). */
const reportedStates = new Set<PaymentState>(['settled', 'reconciled', 'pending', 'failed'])
