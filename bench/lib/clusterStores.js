// The cluster section's stores, from the bench's side: a fresh PostgreSQL schema per
// topology (dropped after), the ledger's settled payments read straight from PostgreSQL or
// the SQLite file, and this run's Redis keys removed after it.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import postgres from 'postgres'

const require = createRequire(import.meta.url)

/** A bounded admin connection to `url`, ended after `work`. */
async function withSql(url, work) {
  const sql = postgres(url, { max: 1, connect_timeout: 3, idle_timeout: 1, onnotice: () => {} })
  try {
    return await work(sql)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** Why PostgreSQL at `url` cannot be used, or undefined when it answers. */
export async function postgresProblem(url) {
  try {
    await withSql(url, (sql) => sql`select 1`)
    return undefined
  } catch (error) {
    return `PostgreSQL at ${url} did not answer: ${error.message}`
  }
}

/** Schemas created and not dropped yet: {@link dropSchemas} removes them on an interrupt. */
const live = new Map()

/** Drops every schema {@link freshSchema} made that is still there (bounded per schema by the connect timeout). */
export async function dropSchemas() {
  for (const drop of [...live.values()]) await drop().catch(() => {})
}

/**
 * A schema of its own in the database at `baseUrl` (as test/helpers/services.ts does): the
 * URL returned puts every table there (`?search_path=`); `drop()` removes it and all it holds.
 */
export async function freshSchema(baseUrl, tag) {
  const schema = `bench_${tag.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`
  await withSql(baseUrl, (sql) => sql.unsafe(`create schema ${schema}`))
  const url = new URL(baseUrl)
  url.searchParams.set('search_path', schema)
  const drop = async () => {
    await withSql(baseUrl, (sql) => sql.unsafe(`drop schema if exists ${schema} cascade`))
    live.delete(schema)
  }
  live.set(schema, drop)
  return { url: url.toString(), schema, drop }
}

/**
 * The payments the ledger holds for `resource` (a path: the row's resource URL ends with it),
 * by state, with the settled ones' total amount: `{ settled, settledAmount, other }`.
 * `at` is `{ databaseUrl }` (PostgreSQL, table `x402_payments`) or `{ ledger }` (a SQLite file, table `payments`).
 */
export async function ledgerPayments(at, resource) {
  const rows = at.databaseUrl
    ? await withSql(
        at.databaseUrl,
        (sql) => sql`select state, count(*)::int as n, coalesce(sum(amount), 0)::text as amount
          from x402_payments where resource like ${`%${resource}`} group by state`,
      )
    : sqliteRows(at.ledger, resource)
  const out = { settled: 0, settledAmount: 0n, other: {} }
  for (const row of rows) {
    if (row.state === 'settled') {
      out.settled = Number(row.n)
      out.settledAmount = BigInt(row.amount)
    } else out.other[row.state] = Number(row.n)
  }
  return out
}

function sqliteRows(file, resource) {
  const Database = require('better-sqlite3')
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    // Amounts are decimal strings here: summed as bigints, not as SQLite's floats.
    const rows = db.prepare('select state, amount from payments where resource like ?').all(`%${resource}`)
    const by = new Map()
    for (const { state, amount } of rows) {
      const entry = by.get(state) ?? { state, n: 0, amount: 0n }
      entry.n++
      entry.amount += BigInt(amount)
      by.set(state, entry)
    }
    return [...by.values()].map((e) => ({ ...e, amount: e.amount.toString() }))
  } finally {
    db.close()
  }
}
