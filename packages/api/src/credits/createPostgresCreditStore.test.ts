import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { afterEach, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPaywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import type { CreditStore } from '../stores/types.js'
import { createPostgresCreditStore } from './createPostgresCreditStore.js'
import type { CreditService } from './creditService.js'
import { sharedCreditService } from './sharedCreditService.js'

const databaseUrl = await postgresUrlOrSkip()

/** What each test opened, closed after it whatever happens. */
const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const done of cleanup.splice(0).reverse()) await done()
})

/** A fresh schema seen through `count` pools of their own (as `count` instances would). */
async function instances(count: number): Promise<{ url: string; stores: CreditStore[] }> {
  const schema = await freshSchema(databaseUrl as string)
  cleanup.push(() => schema.drop())
  const stores = Array.from({ length: count }, (_, i) => {
    const store = createPostgresCreditStore({ url: `${schema.url}&application_name=402x-instance-${i}` })
    cleanup.push(() => store.close())
    return store
  })
  return { url: schema.url, stores }
}

/**
 * Reads the books with a connection of its own and checks the double-entry invariants in
 * bigint: every transaction has ≥ 2 entries summing to zero, the entries of every account sum
 * to zero overall, each caller and hold balance row is the sum of its entries and not
 * negative, and each hold balance is its caller's held reservations.
 */
async function audit(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const transactions = await sql<{ id: string; sum: string; count: number }[]>`
      select t.id::text, coalesce(sum(e.amount), 0)::text as sum, count(e.id)::int as count
      from x402_credit_transactions t left join x402_credit_entries e on e.transaction_id = t.id group by t.id`
    for (const t of transactions) {
      expect(BigInt(t.sum), `transaction ${t.id} sums to zero`).toBe(0n)
      expect(t.count, `transaction ${t.id} has two sides`).toBeGreaterThanOrEqual(2)
    }
    const [total] = await sql<{ sum: string }[]>`select coalesce(sum(amount), 0)::text as sum from x402_credit_entries`
    expect(BigInt(total?.sum ?? 'x')).toBe(0n)
    const mismatched = await sql`
      with sums as (select account, sum(amount) as sum from x402_credit_entries where account not like 'system:%' group by account)
      select coalesce(b.account, s.account) as account, b.balance::text, s.sum::text
      from x402_credit_balances b full join sums s on s.account = b.account
      where coalesce(b.balance, 0) <> coalesce(s.sum, 0) or b.balance < 0`
    expect(mismatched).toEqual([])
    const holds = await sql`
      with held as (select 'hold:' || account as account, sum(amount) as sum from x402_credit_reservations where state = 'held' group by account)
      select b.account from x402_credit_balances b full join held h on h.account = b.account
      where coalesce(b.account, h.account) like 'hold:%' and coalesce(b.balance, 0) <> coalesce(h.sum, 0)`
    expect(holds).toEqual([])
    const [revenue] = await sql<{ sum: string }[]>`
      select coalesce(sum(amount), 0)::text as sum from x402_credit_entries where account = 'system:revenue'`
    return { transactions: transactions.length, revenue: BigInt(revenue?.sum ?? 0) }
  } finally {
    await sql.end({ timeout: 1 })
  }
}

describe.skipIf(!databaseUrl)('createPostgresCreditStore', () => {
  it('charges exactly 50 of 200 racing 1-unit charges through 3 credit services on their own pools', async () => {
    const { url, stores } = await instances(3)
    const services: CreditService[] = stores.map((store) => {
      // As the paywall builds it from `stores.credits` (paywall/credits.ts).
      const service = sharedCreditService({ store })
      cleanup.push(() => service.close())
      return service
    })
    const account = `acct_${randomUUID()}`
    await (services[0] as CreditService).grant(account, 50n, `grant_${account}`)
    // Every service reads the balance first, so that each believes it may spend all 50.
    for (const service of services) expect(await service.available(account)).toBe(50n)
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const service = services[i % 3] as CreditService
        const hold = await service.hold(account, 1n)
        if ('ok' in hold) return 'not held'
        return service.charge(hold, 1n).then(
          () => 'charged',
          () => 'refused',
        )
      }),
    )
    expect(outcomes.filter((o) => o === 'charged')).toHaveLength(50)
    // The store refused what another instance had spent: more than 50 were held in memory.
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(0)
    expect(await (stores[1] as CreditStore).balance(account)).toEqual({ available: 0n, reserved: 0n })
    const entries = await (stores[2] as CreditStore).entries(account, { limit: 1_000 })
    expect(entries.reduce((sum, e) => sum + e.amount, 0n)).toBe(0n)
    expect(entries.filter((e) => e.kind === 'charge').reduce((sum, e) => sum - e.amount, 0n)).toBe(50n)
    expect((await audit(url)).revenue).toBe(50n)
  })

  it('backs two paywalls (`stores.credits`): a grant on one is credit on the other, a revoke there closes it here', async () => {
    const { stores } = await instances(2)
    const [one, two] = stores.map((store, i) => {
      const paywall = createPaywall({
        payTo: '0x1111111111111111111111111111111111111111',
        network: 'eip155:8453',
        facilitator: 'http://127.0.0.1:9',
        ledger: ':memory:',
        reconcileIntervalMs: 0,
        price: 0.01,
        credits: {},
        stores: { credits: store },
      } as PaywallOptions)
      cleanup.push(() => paywall.close())
      return paywall.credits ?? expect.unreachable(`paywall ${i} has no credits`)
    }) as [
      NonNullable<ReturnType<typeof createPaywall>['credits']>,
      NonNullable<ReturnType<typeof createPaywall>['credits']>,
    ]
    const { token } = await one.grant({ amount: 5, ref: 'welcome' })
    expect(await two.balance(token as string)).toEqual({ available: '5', reserved: '0' })
    // Read here too, so that this instance has the token's account cached.
    expect(await one.balance(token as string)).toEqual({ available: '5', reserved: '0' })
    expect(await two.revoke(token as string)).toBe(true)
    // The other instance forgets the token it cached once it is notified (within a bound).
    let seen = await one.balance(token as string)
    for (let i = 0; i < 40 && seen !== undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      seen = await one.balance(token as string)
    }
    expect(seen).toBeUndefined()
  })

  it('tells the other instances which accounts moved: they read those again, and keep the rest', async () => {
    const { stores } = await instances(2)
    const [a, b] = stores as [CreditStore, CreditStore]
    // B's store, counting the balances its service reads.
    const read: string[] = []
    const counted: CreditStore = {
      ...b,
      balance: (account) => {
        read.push(account)
        return b.balance(account)
      },
    }
    const serviceA = sharedCreditService({ store: a })
    const serviceB = sharedCreditService({ store: counted })
    cleanup.push(
      () => serviceA.close(),
      () => serviceB.close(),
    )
    const [x, y] = [`acct_x_${randomUUID()}`, `acct_y_${randomUUID()}`]
    await serviceA.grant(x, 100n, `g_${x}`)
    await serviceA.grant(y, 100n, `g_${y}`)
    const settled = async (check: () => Promise<boolean>) => {
      const deadline = Date.now() + 5_000
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error('not within 5 s')
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    // B caches both balances once A's grants have been heard.
    await settled(async () => (await serviceB.available(x)) === 100n && (await serviceB.available(y)) === 100n)
    await new Promise((r) => setTimeout(r, 50))
    await serviceB.available(x)
    await serviceB.available(y)
    read.length = 0
    // A charges x: B reads x again (its new balance), and not y.
    const hold = await serviceA.hold(x, 30n)
    if ('ok' in hold) throw new Error('not held')
    await serviceA.charge(hold, 30n)
    await settled(async () => (await serviceB.available(x)) === 70n)
    expect(await serviceB.available(y)).toBe(100n)
    expect(read.filter((account) => account === y)).toEqual([])
    expect(read.filter((account) => account === x).length).toBeGreaterThan(0)
  })

  it('keeps the books balanced under a mixed workload of two instances', async () => {
    const { url, stores } = await instances(2)
    const [a, b] = stores as [CreditStore, CreditStore]
    const accounts = Array.from({ length: 4 }, () => `acct_${randomUUID()}`)
    await Promise.all(accounts.map((acct, i) => a.topUp({ account: acct, amount: 1_000n, ref: `pay_${i}_${acct}` })))
    await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const store = i % 2 ? b : a
        const acct = accounts[i % 4] as string
        const other = accounts[(i + 1) % 4] as string
        switch (i % 6) {
          case 0: {
            const held = await store.reserve({ account: acct, amount: 30n, ttlMs: 60_000 })
            if (held.ok) await (i % 4 ? a : b).capture({ reservationId: held.reservationId, amount: 20n })
            return
          }
          case 1:
            await store.tab([
              { account: acct, amount: 15n },
              { account: other, amount: 5n },
            ])
            return
          case 2:
            await store.grant({ account: acct, amount: 7n, ref: `grant_${i % 12}_${acct}` })
            return
          case 3:
            await store.payout({ account: acct, amount: 40n, ref: `payout_${i}` }).catch(() => {})
            return
          case 4:
            await store.refund({ account: acct, amount: 3n, ref: `refund_${i % 12}`, reason: 'not delivered' })
            return
          default: {
            const held = await store.reserve({ account: other, amount: 10n, ttlMs: 60_000 })
            if (held.ok) await store.release({ reservationId: held.reservationId, reason: 'dropped' })
          }
        }
      }),
    )
    const books = await audit(url)
    expect(books.transactions).toBeGreaterThan(100)
    for (const acct of accounts) {
      const balance = await b.balance(acct)
      expect(balance.available >= 0n && balance.reserved === 0n).toBe(true)
    }
  })

  it('expires each reservation once when two instances expire at once, and capture loses to expiry', async () => {
    const { url, stores } = await instances(2)
    const [a, b] = stores as [CreditStore, CreditStore]
    const account = `acct_${randomUUID()}`
    await a.topUp({ account, amount: 1_000n, ref: `pay_${account}` })
    const held = await Promise.all(Array.from({ length: 20 }, () => a.reserve({ account, amount: 50n, ttlMs: 1 })))
    await new Promise((resolve) => setTimeout(resolve, 20))
    const [x, y] = await Promise.all([a.expireReservations(), b.expireReservations()])
    expect(x + y).toBe(20)
    expect(await b.balance(account)).toEqual({ available: 1_000n, reserved: 0n })
    const first = held[0]
    if (!first?.ok) throw new Error('not held')
    await expect(b.capture({ reservationId: first.reservationId, amount: 1n })).rejects.toMatchObject({
      code: 'invalid_request',
    })
    await audit(url)
  })

  it('refuses a credit past 2^63 as bad input, writing nothing', async () => {
    const { url, stores } = await instances(1)
    const store = stores[0] as CreditStore
    const account = `acct_${randomUUID()}`
    await store.topUp({ account, amount: (1n << 63n) - 10n, ref: 'pay_1' })
    await expect(store.topUp({ account, amount: 20n, ref: 'pay_2' })).rejects.toMatchObject({ code: 'invalid_request' })
    expect(await store.topUpAccount('pay_2')).toBeUndefined()
    expect((await store.balance(account)).available).toBe((1n << 63n) - 10n)
    expect((await audit(url)).transactions).toBe(1)
  })

  it('answers store_unavailable when PostgreSQL is unreachable, and bad input as invalid_request', async () => {
    const store = createPostgresCreditStore({ url: 'postgres://root@127.0.0.1:1/none' })
    cleanup.push(() => store.close())
    await expect(store.balance('acct_x')).rejects.toMatchObject({ code: 'store_unavailable' })
    await expect(store.reserve({ account: 'acct_x', amount: -1n, ttlMs: 1_000 })).rejects.toMatchObject({
      code: 'invalid_request',
    })
  })
})
