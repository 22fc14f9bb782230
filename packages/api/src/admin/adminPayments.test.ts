import { afterAll, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { newPayment } from '../ledger/newPayment.fixture.js'
import type { Paywall } from '../paywall/createPaywall.js'
import { adminPaywalls, call } from './adminTestPaywalls.js'

const made = adminPaywalls()
const drops: (() => Promise<void>)[] = []
afterAll(async () => {
  await made.close()
  for (const drop of drops) await drop()
})

const databaseUrl = await postgresUrlOrSkip()

/** The admin payments endpoints over one paywall's ledger: rows written as the pipeline writes them. */
function paymentsEndpoint(name: string, open: () => Promise<Paywall>) {
  describe(`GET /__402x/admin/payments on ${name}`, () => {
    it('filters, pages stably while payments come in, and refuses bad input with what to send', async () => {
      const paywall = await open()
      const { ledger } = paywall.config
      const payer = `0x${'ab'.repeat(20)}`
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const p = newPayment({
          payer: i % 2 ? payer : `0x${'cd'.repeat(20)}`,
          resource: `http://127.0.0.1/api/item/${i}`,
        })
        await ledger.insert(p)
        if (i < 4) await ledger.transition(p.id, 'settled', { transaction: `0x${String(i).repeat(64)}` })
        ids.push(p.id)
      }
      const get = (path: string) => call(paywall, 'GET', `/__402x/admin${path}`)
      const first = await get('/payments?limit=2')
      expect(first.status).toBe(200)
      const page1 = first.json.payments as { id: string; amount: string; state: string }[]
      expect(page1.map((p) => p.id)).toEqual([ids[4], ids[3]])
      expect(page1[0]).toMatchObject({ amount: '0.01', amountAtomic: '10000', state: 'verified', transaction: null })
      await ledger.insert(newPayment())
      const second = await get(`/payments?limit=2&cursor=${first.json.next}`)
      expect((second.json.payments as { id: string }[]).map((p) => p.id)).toEqual([ids[2], ids[1]])
      const byPayer = await get(`/payments?payer=${payer.toUpperCase().replace('0X', '0x')}&state=settled`)
      expect((byPayer.json.payments as { id: string }[]).map((p) => p.id)).toEqual([ids[3], ids[1]])
      expect(((await get('/payments?resource=/api/item/2')).json.payments as unknown[]).length).toBe(1)
      const future = await get(`/payments?from=${new Date(Date.now() + 60_000).toISOString()}`)
      expect(future.json).toEqual({ payments: [] })
      for (const [query, field] of [
        ['payer=bob', 'payer'],
        ['state=done', 'state'],
        ['from=yesterday', 'from'],
        ['limit=5000', 'limit'],
        ['cursor=abc', 'cursor'],
      ]) {
        const bad = await get(`/payments?${query}`)
        expect(bad.status, query).toBe(400)
        expect(bad.json.message, query).toContain(field)
      }
      const one = await get(`/payments/${ids[1]}`)
      expect(one.json.payment).toMatchObject({ id: ids[1], payer, state: 'settled' })
      expect(one.json.payment).not.toHaveProperty('payload')
      expect((await get('/payments/nope')).status).toBe(404)
    })
  })
}

paymentsEndpoint('SQLite', async () => made.make({ network: 'eip155:31337' }))

describe.skipIf(!databaseUrl)('PostgreSQL', () => {
  paymentsEndpoint('PostgreSQL', async () => {
    const schema = await freshSchema(databaseUrl as string)
    drops.push(schema.drop)
    return made.make({ network: 'eip155:31337', ledger: createPostgresLedger({ url: schema.url }) })
  })
})
