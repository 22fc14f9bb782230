import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import { checkAccountsPage, checkAdjustment, checkRevenueQuery, overdrawn, reusedRef } from '../credits/creditAdmin.js'
import { hashToken, tokenPrefix } from '../credits/tokens.js'
import type { CreditAccount, CreditEntry, CreditKind, Posted, RefInput, RevenueEntry } from '../credits/types.js'
import { memoryStoreEvents } from '../webhooks/memoryStoreEvents.js'
import type { CreditStore } from './types.js'

const invalid = (message: string, details: Record<string, unknown> = {}) =>
  new X402Error('invalid_request', { message, details })
const positive = (amount: unknown, what: string, min = 1n) => {
  if (typeof amount !== 'bigint' || amount < min)
    throw invalid(
      `${what} must be a ${min ? 'positive' : 'non-negative'} bigint of atomic units, got ${String(amount)}`,
    )
}
type Reservation = {
  account: string
  amount: bigint
  state: 'held' | 'captured' | 'released' | 'expired'
  expiresAt: number
}

/**
 * A credit store in process memory: for tests and throwaway servers. Nothing survives a
 * restart and no other process sees it. Charges on the tab are posted at once (`postTabs`
 * has nothing left to post), and `version()` is constant: this object is the only writer.
 *
 * @example
 * const paywall = createPaywall({ price: 0.01, stores: { credits: createMemoryCreditStore() } })
 */
export function createMemoryCreditStore(now = Date.now): CreditStore {
  const balances = new Map<CreditAccount, bigint>()
  const entries: CreditEntry[] = []
  const byRef = new Map<string, { transactionId: number; account: string; amount: bigint }>()
  const reservations = new Map<string, Reservation>()
  const reservationRefs = new Map<string, string>()
  const tokens = new Map<string, string>()
  const relay = memoryStoreEvents()
  let transactions = 0
  let closed = false
  const open = () => {
    if (closed) throw new X402Error('store_unavailable', { message: 'the memory credit store was closed' })
  }
  const balanceOf = (account: CreditAccount) => balances.get(account) ?? 0n
  /** One transaction: its postings sum to zero (the caller keeps them so). */
  const post = (kind: CreditKind, ref: string, postings: [CreditAccount, bigint][], note?: string) => {
    const transactionId = ++transactions
    const createdAt = now()
    for (const [account, amount] of postings) {
      if (amount === 0n) continue
      balances.set(account, balanceOf(account) + amount)
      entries.push({
        id: entries.length + 1,
        transactionId,
        account,
        amount,
        kind,
        ref,
        ...(note ? { note } : {}),
        createdAt,
      })
    }
    return transactionId
  }
  /** Every call runs to its end without an `await`: nothing interleaves, as in one transaction. */
  const run = async <T>(fn: () => T): Promise<T> => {
    open()
    return fn()
  }
  const once = (
    kind: 'top_up' | 'grant' | 'refund' | 'payout',
    input: RefInput,
    move: () => [CreditAccount, bigint][],
  ): Posted => {
    positive(input.amount, 'amount')
    const earlier = byRef.get(`${kind}\n${input.ref}`)
    if (earlier) {
      if (earlier.account !== input.account || earlier.amount !== input.amount)
        throw invalid(`ref \`${input.ref}\` was already used for another ${kind}: pass a new ref`, { ref: input.ref })
      return { transactionId: earlier.transactionId, replayed: true }
    }
    const transactionId = post(kind, input.ref, move(), input.note ?? input.reason)
    byRef.set(`${kind}\n${input.ref}`, { transactionId, account: input.account, amount: input.amount })
    relay.write(input.events)
    return { transactionId, replayed: false }
  }
  const credit =
    (kind: 'top_up' | 'grant' | 'refund', from: CreditAccount) =>
    (input: Parameters<CreditStore['topUp']>[0] & { note?: string; reason?: string }) =>
      run(() =>
        once(kind, input, () => [
          [from, -input.amount],
          [`caller:${input.account}`, input.amount],
        ]),
      )
  const settle = (id: string, to: 'captured' | 'released' | 'expired', captured: bigint, reason: string) => {
    const r = reservations.get(id)
    if (!r) throw invalid(`no reservation \`${id}\`: pass the reservationId that reserve() returned`, { id })
    if (r.state !== 'held')
      throw invalid(`reservation \`${id}\` was already ${r.state}: reserve again`, { id, state: r.state })
    if (captured > r.amount)
      throw invalid(`cannot capture ${captured} of reservation \`${id}\`, which holds ${r.amount}`, { id })
    r.state = to
    const kind = to === 'captured' ? 'capture' : to === 'released' ? 'release' : 'expire'
    post(
      kind,
      id,
      [
        [`hold:${r.account}`, -r.amount],
        ['system:revenue', captured],
        [`caller:${r.account}`, r.amount - captured],
      ],
      reason,
    )
    return r.amount
  }
  return {
    topUp: credit('top_up', 'system:topups'),
    grant: credit('grant', 'system:grants'),
    refund: credit('refund', 'system:revenue'),
    payout: (input) =>
      run(() => {
        positive(input.amount, 'amount')
        if (!byRef.has(`payout\n${input.ref}`) && balanceOf(`caller:${input.account}`) < input.amount) {
          const available = balanceOf(`caller:${input.account}`)
          throw invalid(
            `insufficient credit: cannot pay out ${input.amount} from \`${input.account}\`, whose available credit is ${available}`,
            {
              reason: 'insufficient_credit',
              available: String(available),
              amount: String(input.amount),
            },
          )
        }
        return once('payout', input, () => [
          [`caller:${input.account}`, -input.amount],
          ['system:payouts', input.amount],
        ])
      }),
    reserve: (input) =>
      run(() => {
        positive(input.amount, 'amount')
        if (input.ref !== undefined) {
          const id = reservationRefs.get(input.ref)
          const existing = id === undefined ? undefined : reservations.get(id)
          if (id !== undefined && existing) {
            if (existing.account !== input.account || existing.amount !== input.amount)
              throw invalid(`ref \`${input.ref}\` was already used for another reservation: pass a new ref`, {
                ref: input.ref,
              })
            return { ok: true as const, reservationId: id, expiresAt: existing.expiresAt }
          }
        }
        const available = balanceOf(`caller:${input.account}`)
        if (available < input.amount) return { ok: false as const, reason: 'insufficient_credit' as const, available }
        const id = `rsv_${randomUUID()}`
        const expiresAt = now() + input.ttlMs
        reservations.set(id, { account: input.account, amount: input.amount, state: 'held', expiresAt })
        if (input.ref !== undefined) reservationRefs.set(input.ref, id)
        post('reserve', id, [
          [`caller:${input.account}`, -input.amount],
          [`hold:${input.account}`, input.amount],
        ])
        return { ok: true as const, reservationId: id, expiresAt }
      }),
    capture: ({ reservationId, amount, events }) =>
      run(() => {
        positive(amount, 'amount', 0n)
        const reserved = settle(reservationId, 'captured', amount, 'captured')
        relay.write(events)
        return { captured: amount, released: reserved - amount }
      }),
    extend: ({ reservationId, ttlMs }) =>
      run(() => {
        const r = reservations.get(reservationId)
        if (r?.state !== 'held') return false
        r.expiresAt = now() + ttlMs
        return true
      }),
    release: ({ reservationId, reason, events }) =>
      run(() => {
        const released = settle(reservationId, 'released', 0n, reason)
        relay.write(events)
        return { released }
      }),
    tab: (items) =>
      run(() => {
        for (const item of items) positive(item.amount, 'amount')
        // Charge by charge, in order, as far as each caller's credit goes; posted at once.
        const charged = new Map<string, { amount: bigint; charges: number }>()
        const results = items.map(({ account, amount }) => {
          const sum = charged.get(account) ?? { amount: 0n, charges: 0 }
          if (balanceOf(`caller:${account}`) - sum.amount < amount) return false
          charged.set(account, { amount: sum.amount + amount, charges: sum.charges + 1 })
          return true
        })
        for (const [account, sum] of charged)
          post(
            'charge',
            `tab_${randomUUID()}`,
            [
              [`caller:${account}`, -sum.amount],
              ['system:revenue', sum.amount],
            ],
            String(sum.charges),
          )
        return results
      }),
    postTabs: () => run(() => 0n),
    expireReservations: (at = now()) =>
      run(() => {
        let count = 0
        for (const [id, r] of reservations)
          if (r.state === 'held' && r.expiresAt <= at) {
            settle(id, 'expired', 0n, 'expired')
            count++
          }
        return count
      }),
    balance: (account) =>
      run(() => ({ available: balanceOf(`caller:${account}`), reserved: balanceOf(`hold:${account}`) })),
    topUpAccount: (ref) => run(() => byRef.get(`top_up\n${ref}`)?.account),
    grantOf: (ref) =>
      run(() => {
        const grant = byRef.get(`grant\n${ref}`)
        return grant && { account: grant.account, amount: grant.amount }
      }),
    version: () => 0,
    entries: (account, { limit = 100 } = {}) =>
      run(() =>
        entries
          .filter((e) => e.account === `caller:${account}` || e.account === `hold:${account}`)
          .reverse()
          .slice(0, limit),
      ),
    revenue: (query) =>
      run(() => {
        const { from, to, after, limit } = checkRevenueQuery(query)
        const page: RevenueEntry[] = []
        // Entries are in id order, and their times never go back (one clock, one writer).
        for (const e of entries) {
          if (page.length === limit) break
          if (e.account !== 'system:revenue' || e.createdAt < from || e.createdAt >= to) continue
          if (e.createdAt < after.createdAt || (e.createdAt === after.createdAt && e.id <= after.id)) continue
          // The caller is the transaction's other side (its caller or hold account).
          const side = entries.find((o) => o.transactionId === e.transactionId && o.account !== 'system:revenue')
          const { account: _, ...rest } = e
          page.push({ ...rest, account: side ? side.account.replace(/^(caller|hold):/, '') : '' })
        }
        return page
      }),
    accounts: (options) =>
      run(() => {
        const { limit, after } = checkAccountsPage(options)
        const ids = [...balances.keys()]
          .filter((a) => a.startsWith('caller:') && a.slice(7) > after)
          .map((a) => a.slice(7))
          .sort()
          .slice(0, limit)
        return ids.map((account) => ({
          account,
          available: balanceOf(`caller:${account}`),
          reserved: balanceOf(`hold:${account}`),
          updatedAt: entries.findLast((e) => e.account === `caller:${account}` || e.account === `hold:${account}`)
            ?.createdAt as number,
        }))
      }),
    adjust: (input) =>
      run(() => {
        checkAdjustment(input)
        const earlier = byRef.get(`adjust\n${input.ref}`)
        if (earlier) {
          if (earlier.account !== input.account || earlier.amount !== input.amount)
            throw reusedRef(input.ref, { account: earlier.account, amount: String(earlier.amount) })
          return { transactionId: earlier.transactionId, replayed: true }
        }
        const available = balanceOf(`caller:${input.account}`)
        if (available + input.amount < 0n) throw overdrawn(input, available)
        const transactionId = post(
          'adjust',
          input.ref,
          [
            ['system:adjustments', -input.amount],
            [`caller:${input.account}`, input.amount],
          ],
          input.reason,
        )
        byRef.set(`adjust\n${input.ref}`, { transactionId, account: input.account, amount: input.amount })
        return { transactionId, replayed: false }
      }),
    linkToken: (hash, account) =>
      run(() => {
        if (!/^[0-9a-f]{64}$/.test(hash))
          throw invalid('linkToken takes the `hash` from issueToken() (64 hex characters), never the token itself')
        const linked = tokens.get(hash)
        if (linked !== undefined && linked !== account)
          throw invalid('this token is already linked to another account: issue a new token with issueToken()')
        tokens.set(hash, account)
      }),
    webhookEvents: relay.source,
    revokeToken: (token) => run(() => token.startsWith(tokenPrefix) && tokens.delete(hashToken(token))),
    revokeTokensOf: (account) =>
      run(() => {
        let revoked = 0
        for (const [hash, linked] of tokens) if (linked === account && tokens.delete(hash)) revoked++
        return revoked
      }),
    accountForToken: (token) => run(() => (token.startsWith(tokenPrefix) ? tokens.get(hashToken(token)) : undefined)),
    close: async () => {
      closed = true
    },
  }
}
