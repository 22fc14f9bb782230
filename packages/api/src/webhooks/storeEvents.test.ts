import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createCreditLedger } from '../credits/createCreditLedger.js'
import { createPostgresCreditStore } from '../credits/createPostgresCreditStore.js'
import { createMemoryKeyStore } from '../keys/createMemoryKeyStore.js'
import { createPostgresKeyStore } from '../keys/createPostgresKeyStore.js'
import { createSqliteKeyStore } from '../keys/createSqliteKeyStore.js'
import type { KeyStore } from '../keys/types.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import { openSqlite } from '../ledger/openSqlite.js'
import { createMemoryCreditStore } from '../stores/createMemoryCreditStore.js'
import { createMemoryPaymentLedger } from '../stores/createMemoryPaymentLedger.js'
import type { CreditStore, PaymentLedger } from '../stores/types.js'
import { createWebhooks } from './createWebhooks.js'
import { stableId } from './eventIds.js'
import { generateWebhookSecret } from './signWebhook.js'
import type { WebhookEventType } from './types.js'

// Every event a store writes (credit.topped_up, payment.refunded, key.created, key.revoked,
// and the ledger's payment.*) commits in the same transaction as the change it reports, on
// SQLite, PostgreSQL and memory: straight into the ledger's outbox when the store shares the
// ledger's database, else in the store's own database until the worker moves it. A failure
// injected in the database after the change and before the commit (a trigger refusing the
// event's row) leaves neither the change nor the event.
const databaseUrl = await postgresUrlOrSkip()
const dir = mkdtempSync(join(tmpdir(), '402x-store-events-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Where the stores write their events: the ledger's own outbox table, or their relay table. */
type Mode = 'direct' | 'relay'
type Opened = {
  ledger: PaymentLedger
  credits: CreditStore
  keys: KeyStore
  /** Makes every insert into the table the stores write their events to fail, in the database. */
  inject?: () => Promise<void>
  heal?: () => Promise<void>
  close(): Promise<void>
}
let files = 0
const file = () => join(dir, `store-${++files}.db`)

/** A trigger on a SQLite file that refuses every row of `table`. */
const sqliteFault = (path: string, table: string) => ({
  inject: async () => {
    const db = openSqlite(path)
    db.exec(`CREATE TRIGGER x402_injected BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
    db.close()
  },
  heal: async () => {
    const db = openSqlite(path)
    db.exec('DROP TRIGGER x402_injected')
    db.close()
  },
})
/** The same on PostgreSQL, in the schema the URL names. */
const postgresFault = (url: string, table: string) => {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  return {
    inject: async () => {
      await sql.unsafe(`create function x402_injected() returns trigger language plpgsql as $$
        begin raise exception 'injected failure'; end $$`)
      await sql.unsafe(
        `create trigger x402_injected before insert on ${table} for each row execute function x402_injected()`,
      )
    },
    heal: async () => {
      await sql.unsafe(`drop trigger x402_injected on ${table}; drop function x402_injected()`)
    },
    end: () => sql.end({ timeout: 1 }),
  }
}
const closeAll = (s: Pick<Opened, 'ledger' | 'credits' | 'keys'>) => async () => {
  await s.credits.close()
  await s.keys.close()
  await s.ledger.close()
}

const backends: { name: string; mode: Mode; open(): Promise<Opened> }[] = [
  {
    name: 'SQLite, the stores in the ledger file',
    mode: 'direct',
    async open() {
      const path = file()
      const s = {
        ledger: createSqliteLedger({ path }),
        credits: createCreditLedger({ path }),
        keys: createSqliteKeyStore({ path }),
      }
      return { ...s, ...sqliteFault(path, 'webhook_events'), close: closeAll(s) }
    },
  },
  {
    name: 'SQLite, the stores in a file of their own',
    mode: 'relay',
    async open() {
      const own = file()
      const s = {
        ledger: createSqliteLedger({ path: file() }),
        credits: createCreditLedger({ path: own }),
        keys: createSqliteKeyStore({ path: own }),
      }
      return { ...s, ...sqliteFault(own, 'webhook_relay'), close: closeAll(s) }
    },
  },
  ...(databaseUrl
    ? [
        {
          name: 'PostgreSQL, the stores in the ledger database',
          mode: 'direct' as const,
          async open(): Promise<Opened> {
            const schema = await freshSchema(databaseUrl)
            const { url } = schema
            const s = {
              ledger: createPostgresLedger({ url }),
              credits: createPostgresCreditStore({ url }),
              keys: createPostgresKeyStore({ url }),
            }
            // The schemas exist before a trigger goes on one of their tables.
            await s.ledger.list()
            await s.credits.balance('nobody')
            await s.keys.list()
            const fault = postgresFault(url, 'x402_webhook_events')
            const close = async () => {
              await closeAll(s)()
              await fault.end()
              await schema.drop()
            }
            return { ...s, ...fault, close }
          },
        },
        {
          name: 'PostgreSQL, the stores in another database',
          mode: 'relay' as const,
          async open(): Promise<Opened> {
            const mine = await freshSchema(databaseUrl)
            const theirs = await freshSchema(databaseUrl)
            const s = {
              ledger: createPostgresLedger({ url: mine.url }),
              credits: createPostgresCreditStore({ url: theirs.url }),
              keys: createPostgresKeyStore({ url: theirs.url }),
            }
            await s.ledger.list()
            await s.credits.balance('nobody')
            await s.keys.list()
            const fault = postgresFault(theirs.url, 'x402_webhook_relay')
            const close = async () => {
              await closeAll(s)()
              await fault.end()
              await mine.drop()
              await theirs.drop()
            }
            return { ...s, ...fault, close }
          },
        },
      ]
    : []),
  {
    name: 'memory',
    mode: 'relay',
    async open() {
      const s = {
        ledger: createMemoryPaymentLedger(),
        credits: createMemoryCreditStore(),
        keys: createMemoryKeyStore(),
      }
      return { ...s, close: closeAll(s) }
    },
  },
]

/** The paywall's webhook service on these stores, with one webhook for every event (never reached). */
function webhooksOn(s: Opened) {
  const errors: unknown[] = []
  const service = createWebhooks({
    ledger: s.ledger,
    fixed: [
      {
        id: 'wh_all',
        url: 'http://127.0.0.1:9/hooks',
        events: ['*'],
        secret: generateWebhookSecret(),
        createdAt: 0,
        source: 'code',
      },
    ],
    // Ticks only when the test asks for one.
    timings: {
      pollIntervalMs: 3_600_000,
      timeoutMs: 1_000,
      initialBackoffMs: 3_600_000,
      maxBackoffMs: 3_600_000,
      retryForMs: 86_400_000,
    },
    decimals: 6,
    localChain: true,
    stores: () => [
      { name: 'credit store', types: ['credit.topped_up', 'payment.refunded'], events: () => s.credits.webhookEvents },
      { name: 'key store', types: ['key.created', 'key.revoked'], events: () => s.keys.webhookEvents },
    ],
    onError: (error) => errors.push(error),
  })
  const event = (type: WebhookEventType, key: string) => service.events(type, key, { key })
  const id = (type: WebhookEventType, key: string) => stableId('evt', type, key)
  /**
   * The worker's first round, at its start (a timer of 0 ms, set before this one), done: from
   * here on it moves events only when asked.
   */
  const started = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0))
    await service.tick()
  }
  const inOutbox = async () => {
    await service.tick()
    const page = await s.ledger.outbox?.deliveries({ limit: 100 })
    return new Set(page?.deliveries.map((d) => d.eventId))
  }
  /** What the stores hold for the outbox, not yet moved. */
  const waiting = async () => {
    const outbox = s.ledger.outbox?.id as string
    const credit = (await s.credits.webhookEvents?.take(outbox, 100)) ?? []
    const keys = (await s.keys.webhookEvents?.take(outbox, 100)) ?? []
    return new Set([...credit, ...keys].map((e) => e.id))
  }
  return { service, event, id, started, inOutbox, waiting, errors }
}

for (const backend of backends) {
  describe(`store events: ${backend.name}`, () => {
    it('each store writes its events with its change, once; the worker moves them into the outbox', async () => {
      const s = await backend.open()
      const hooks = webhooksOn(s)
      try {
        await hooks.started()
        const { credits, keys } = s
        await credits.topUp({
          account: 'alice',
          amount: 100n,
          ref: 'pay_1',
          events: hooks.event('credit.topped_up', 'pay_1'),
        })
        // A retry of the same top-up moves nothing and writes no event.
        const again = await credits.topUp({
          account: 'alice',
          amount: 100n,
          ref: 'pay_1',
          events: hooks.event('credit.topped_up', 'pay_1-again'),
        })
        expect(again.replayed).toBe(true)
        const first = await credits.reserve({ account: 'alice', amount: 30n, ttlMs: 60_000 })
        const second = await credits.reserve({ account: 'alice', amount: 20n, ttlMs: 60_000 })
        if (!first.ok || !second.ok) throw new Error('alice has 100')
        await credits.capture({
          reservationId: first.reservationId,
          amount: 10n,
          events: hooks.event('payment.refunded', 'pay_2'),
        })
        await credits.release({
          reservationId: second.reservationId,
          reason: 'nothing used',
          events: hooks.event('payment.refunded', 'pay_3'),
        })
        await credits.payout({
          account: 'alice',
          amount: 5n,
          ref: 'payout_1',
          events: hooks.event('payment.refunded', 'pay_4'),
        })
        expect(await credits.balance('alice')).toEqual({ available: 85n, reserved: 0n })
        const { record } = await keys.create({ name: 'k', plan: 'free', mode: 'test' }, (r) =>
          hooks.event('key.created', r.id),
        )
        expect(await keys.revoke(record.id, hooks.event('key.revoked', record.id))).toBe(true)
        // A revoke that changes nothing writes nothing.
        expect(await keys.revoke(record.id, hooks.event('key.revoked', `${record.id}-again`))).toBe(false)

        const expected = new Set([
          hooks.id('credit.topped_up', 'pay_1'),
          hooks.id('payment.refunded', 'pay_2'),
          hooks.id('payment.refunded', 'pay_3'),
          hooks.id('payment.refunded', 'pay_4'),
          hooks.id('key.created', record.id),
          hooks.id('key.revoked', record.id),
        ])
        // Where they wait: already in the ledger's outbox (one database), or in the stores'.
        expect(await hooks.waiting()).toEqual(backend.mode === 'direct' ? new Set() : expected)
        expect(await hooks.inOutbox()).toEqual(expected)
        // Moved once: nothing is left to move, and a second round adds nothing.
        expect(await hooks.waiting()).toEqual(new Set())
        expect(await hooks.inOutbox()).toEqual(expected)
        expect(hooks.errors.filter((e) => !/could not send/.test(String(e)))).toEqual([])
      } finally {
        await hooks.service.close()
        await s.close()
      }
    }, 30_000)

    it.skipIf(backend.name === 'memory')(
      'a failure after the change and before the commit leaves neither the change nor its event',
      async () => {
        const s = await backend.open()
        const hooks = webhooksOn(s)
        const { credits, keys, ledger } = s
        try {
          await hooks.started()
          // Made before the failure: a reservation to capture, a key to revoke, a payment to settle.
          await credits.topUp({ account: 'bob', amount: 100n, ref: 'grant_bob' })
          const held = await credits.reserve({ account: 'bob', amount: 40n, ttlMs: 60_000 })
          if (!held.ok) throw new Error('bob has 100')
          const { record } = await keys.create({ name: 'kept', plan: 'free', mode: 'test' })
          const payment = newPayment()
          await ledger.insert(payment)

          await s.inject?.()
          const refused = { code: 'store_unavailable' }
          await expect(
            credits.topUp({
              account: 'bob',
              amount: 7n,
              ref: 'pay_f1',
              events: hooks.event('credit.topped_up', 'pay_f1'),
            }),
          ).rejects.toMatchObject(refused)
          await expect(
            credits.capture({
              reservationId: held.reservationId,
              amount: 10n,
              events: hooks.event('payment.refunded', 'pay_f2'),
            }),
          ).rejects.toMatchObject(refused)
          await expect(
            credits.release({
              reservationId: held.reservationId,
              reason: 'x',
              events: hooks.event('payment.refunded', 'pay_f3'),
            }),
          ).rejects.toMatchObject(refused)
          await expect(
            credits.payout({
              account: 'bob',
              amount: 5n,
              ref: 'payout_f',
              events: hooks.event('payment.refunded', 'pay_f4'),
            }),
          ).rejects.toMatchObject(refused)
          let made: string | undefined
          await expect(
            keys.create({ name: 'lost', plan: 'free', mode: 'test' }, (r) => {
              made = r.id
              return hooks.event('key.created', r.id)
            }),
          ).rejects.toMatchObject(refused)
          await expect(keys.revoke(record.id, hooks.event('key.revoked', record.id))).rejects.toMatchObject(refused)
          // The ledger's own move, where the trigger is on its outbox table.
          if (backend.mode === 'direct')
            await expect(
              ledger.transition(payment.id, 'settled', { transaction: `0x${'ab'.repeat(32)}` }),
            ).rejects.toMatchObject(refused)
          await s.heal?.()

          // None of the changes happened.
          expect(await credits.topUpAccount('pay_f1')).toBeUndefined()
          expect(await credits.balance('bob')).toEqual({ available: 60n, reserved: 40n })
          expect((await keys.list({ includeRevoked: true })).map((k) => k.name)).toEqual(['kept'])
          expect((await keys.get(record.id))?.revokedAt).toBeUndefined()
          expect((await ledger.get(payment.id))?.state).toBe('verified')
          // Nor any of their events.
          expect(await hooks.waiting()).toEqual(new Set())
          expect(await hooks.inOutbox()).toEqual(new Set())

          // Healed, the same changes go through, each with its event: the failure was the injected one.
          await credits.capture({
            reservationId: held.reservationId,
            amount: 10n,
            events: hooks.event('payment.refunded', 'pay_f2'),
          })
          expect(await keys.revoke(record.id, hooks.event('key.revoked', record.id))).toBe(true)
          expect(await hooks.inOutbox()).toEqual(
            new Set([hooks.id('payment.refunded', 'pay_f2'), hooks.id('key.revoked', record.id)]),
          )
          expect(made).toMatch(/^key_/)
        } finally {
          await hooks.service.close()
          await s.close()
        }
      },
      30_000,
    )
  })
}
