import type postgres from 'postgres'
import type { CreditAccount, CreditEntry, CreditKind } from './types.js'

// How the PostgreSQL credit store writes (createPostgresCreditStore.ts): every writing
// transaction first locks the balance rows it will touch, in account order, so that two
// transactions never wait on each other in a cycle; then it decides from what it locked
// (no other transaction can move those balances until it commits); then it posts.

export type Tx = postgres.TransactionSql<{ bigint: bigint }>

/** One writing transaction: its connection, the rows it locked, and whether it wrote. */
export type Write = {
  tx: Tx
  locked: Map<CreditAccount, bigint>
  changed: boolean
  /** A token was revoked: the other store objects forget the tokens they cached. */
  tokens?: boolean
}

/** One ledger transaction to post: its postings sum to zero (the caller keeps them so). */
export type Movement = {
  kind: CreditKind
  ref: string
  account: string
  amount: bigint
  note: string | null
  postings: [CreditAccount, bigint][]
}

const isSystem = (account: CreditAccount) => account.startsWith('system:')

/**
 * Locks the balance rows of `accounts` (`SELECT … FOR UPDATE`, in account order) and returns
 * every locked balance, 0 for an account without a row yet. System accounts have no row
 * (postgresCreditSchema.ts) and are never locked.
 */
export async function lockBalances(w: Write, accounts: CreditAccount[]): Promise<Map<CreditAccount, bigint>> {
  const wanted = [...new Set(accounts)].filter((a) => !isSystem(a) && !w.locked.has(a)).sort()
  if (wanted.length > 0) {
    const rows = await w.tx<{ account: CreditAccount; balance: string }[]>`
      select account, balance::text as balance from x402_credit_balances
      where account = any(${wanted}::text[]) order by account for update`
    for (const account of wanted) w.locked.set(account, 0n)
    for (const row of rows) w.locked.set(row.account, BigInt(row.balance))
  }
  return w.locked
}

/** A lock key for a ref (`pg_advisory_xact_lock`): concurrent writers of one ref go one at a time. */
export async function lockRef(w: Write, scope: string, ref: string): Promise<void> {
  await w.tx`select pg_advisory_xact_lock(hashtextextended(${`${scope}\n${ref}`}, 402))`
}

/**
 * Writes `movements` (transactions and their entries in one statement) and moves the
 * balances they touch by the sum of their postings (`w.locked` then holds the balances after);
 * returns the transaction ids, in order. Postings of 0 are skipped.
 */
export async function post(w: Write, movements: Movement[], now: number): Promise<number[]> {
  const postings = movements.flatMap((m, i) =>
    m.postings.filter(([, amount]) => amount !== 0n).map(([account, amount]) => ({ i, account, amount })),
  )
  const balances = await lockBalances(
    w,
    postings.map((p) => p.account),
  )
  const rows = await w.tx<{ id: bigint; n: bigint }[]>`
    with t as (
      insert into x402_credit_transactions (kind, ref, account, amount, note, created_at)
      select kind, ref, account, amount::numeric, note, ${now}::bigint
      from unnest(${movements.map((m) => m.kind)}::text[], ${movements.map((m) => m.ref)}::text[],
        ${movements.map((m) => m.account)}::text[], ${movements.map((m) => String(m.amount))}::text[],
        ${movements.map((m) => m.note)}::text[]) as m (kind, ref, account, amount, note)
      returning id, kind, ref
    ), n as (
      select t.id, m.n from t join unnest(${movements.map((m) => m.kind)}::text[], ${movements.map((m) => m.ref)}::text[])
        with ordinality as m (kind, ref, n) on m.kind = t.kind and m.ref = t.ref
    ), e as (
      insert into x402_credit_entries (transaction_id, account, amount, created_at)
      select n.id, p.account, p.amount::numeric, ${now}::bigint
      from unnest(${postings.map((p) => p.i + 1)}::bigint[], ${postings.map((p) => p.account)}::text[],
        ${postings.map((p) => String(p.amount))}::text[]) with ordinality as p (n, account, amount, o)
      join n on n.n = p.n
      order by p.o
    )
    select id, n from n order by n`
  const deltas = new Map<CreditAccount, bigint>()
  for (const { account, amount } of postings)
    if (!isSystem(account)) deltas.set(account, (deltas.get(account) ?? 0n) + amount)
  const moved = [...deltas].filter(([, delta]) => delta !== 0n)
  const existing = moved.filter(([account]) => (balances.get(account) ?? 0n) !== 0n)
  const fresh = moved.filter(([account]) => (balances.get(account) ?? 0n) === 0n)
  // A balance locked at 0 may have no row yet: it is credited by an upsert (a debit of it would
  // overdraw, which the CHECK refuses either way); the others are updated in place.
  if (existing.length > 0)
    await w.tx`
      update x402_credit_balances b set balance = b.balance + d.delta::numeric
      from unnest(${existing.map(([a]) => a)}::text[], ${existing.map(([, d]) => String(d))}::text[]) as d (account, delta)
      where b.account = d.account`
  if (fresh.length > 0)
    await w.tx`
      insert into x402_credit_balances as b (account, balance)
      select account, delta::numeric
      from unnest(${fresh.map(([a]) => a)}::text[], ${fresh.map(([, d]) => String(d))}::text[]) as d (account, delta)
      order by account
      on conflict (account) do update set balance = b.balance + excluded.balance`
  for (const [account, delta] of moved) balances.set(account, (balances.get(account) ?? 0n) + delta)
  w.changed = true
  return rows.map((row) => Number(row.id))
}

/** An entry as PostgreSQL returns it (`int8` as `bigint`, money as text). */
export type EntryRow = {
  id: bigint
  transaction_id: bigint
  account: CreditAccount
  amount: string
  kind: CreditKind
  ref: string
  note: string | null
  created_at: bigint
}

export const entryOf = (row: EntryRow): CreditEntry => ({
  id: Number(row.id),
  transactionId: Number(row.transaction_id),
  account: row.account,
  amount: BigInt(row.amount),
  kind: row.kind,
  ref: row.ref,
  ...(row.note ? { note: row.note } : {}),
  createdAt: Number(row.created_at),
})
