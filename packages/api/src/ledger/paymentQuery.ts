import { X402Error } from '@402x/core'
import { type PaymentRecord, type PaymentState, transitions } from './types.js'

/**
 * A filtered, paged read of the payments ledger (`PaymentLedger.query`): the admin API's
 * `GET /payments` and the export read it. Every filter is optional; they combine with AND.
 *
 * @example
 * const page = await ledger.query({ payer: '0xabc…', state: ['settled'], limit: 50 })
 * const next = page.next && (await ledger.query({ payer: '0xabc…', state: ['settled'], limit: 50, cursor: page.next }))
 */
export type PaymentQuery = {
  /** The payer's address (any case). */
  payer?: string
  /** Only payments in these states. */
  state?: readonly PaymentState[]
  /** Only payments whose resource URL contains this text (a path such as `/api/weather`). */
  resource?: string
  /** Recorded at or after this instant (ms epoch). */
  from?: number
  /** Recorded before this instant (ms epoch). */
  to?: number
  /** At most this many (1 to 1000). @default 100 */
  limit?: number
  /** The `next` of the page before: the page after it, whatever was recorded since. */
  cursor?: string
  /** Newest first (the admin listing) or oldest first (the export). @default 'newest' */
  order?: 'newest' | 'oldest'
}

/** One page of {@link PaymentQuery}: `next` is there when more may follow. */
export type PaymentPage = { payments: PaymentRecord[]; next?: string }

export const maxPageSize = 1000

const invalid = (message: string) => new X402Error('invalid_request', { message })

/**
 * The query checked, with the position its cursor names (the store's insertion order:
 * SQLite's rowid, PostgreSQL's `seq`, the memory ledger's count): a page never shifts when
 * payments are recorded between two reads, because it starts after a fixed position.
 */
export function checkQuery(query: PaymentQuery): {
  limit: number
  after: bigint | undefined
  newest: boolean
  payer: string | undefined
  states: readonly PaymentState[] | undefined
} {
  const limit = query.limit ?? 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxPageSize)
    throw invalid(`limit is ${limit}: give a whole number from 1 to ${maxPageSize}`)
  for (const state of query.state ?? []) {
    if (!Object.hasOwn(transitions, state))
      throw invalid(`no payment state "${state}": give one of ${Object.keys(transitions).join(', ')}`)
  }
  const newest = (query.order ?? 'newest') === 'newest'
  let after: bigint | undefined
  if (query.cursor !== undefined) {
    const decoded = /^([no]):(\d{1,19})$/.exec(Buffer.from(query.cursor, 'base64url').toString('latin1'))
    if (!decoded || (decoded[1] === 'n') !== newest)
      throw invalid('cursor is not one this listing gave: pass the `next` of the page before, with the same order')
    after = BigInt(decoded[2] as string)
  }
  return {
    limit,
    after,
    newest,
    payer: query.payer?.toLowerCase(),
    states: query.state && query.state.length > 0 ? query.state : undefined,
  }
}

/** The cursor of the page after the row at `position`. */
export const cursorAt = (position: bigint | number, newest: boolean): string =>
  Buffer.from(`${newest ? 'n' : 'o'}:${position}`, 'latin1').toString('base64url')

/**
 * A page from rows read one past the limit (each with its position): `next` only when a
 * row beyond the page was there.
 */
export function pageOf<T>(
  rows: T[],
  limit: number,
  newest: boolean,
  position: (row: T) => bigint | number,
  record: (row: T) => PaymentRecord,
): PaymentPage {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    payments: page.map(record),
    ...(rows.length > limit && last !== undefined ? { next: cursorAt(position(last), newest) } : {}),
  }
}
