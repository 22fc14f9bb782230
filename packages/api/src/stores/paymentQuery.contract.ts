import { describe, expect, it } from 'vitest'
import { newPayment } from '../ledger/newPayment.fixture.js'
import type { PaymentQuery } from '../ledger/paymentQuery.js'
import { freshBackends, type OpenBackend, sleep } from './contract.fixture.js'
import type { PaymentLedger } from './types.js'

/** Every page of a query, following `next`. */
async function allPages(ledger: PaymentLedger, query: PaymentQuery) {
  const ids: string[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 100; pages++) {
    const page = await ledger.query({ ...query, ...(cursor ? { cursor } : {}) })
    ids.push(...page.payments.map((p) => p.id))
    if (!page.next) return ids
    cursor = page.next
  }
  throw new Error('more than 100 pages')
}

/** `PaymentLedger.query` (`stores/types.ts`), run against one implementation. */
export function paymentQueryContract(name: string, open: OpenBackend<PaymentLedger>) {
  describe(`PaymentLedger.query: ${name}`, () => {
    const fresh = freshBackends(open)

    it('pages newest first and oldest first, each payment once, stable while payments are recorded', async () => {
      const s = await fresh()
      const ids: string[] = []
      for (let i = 0; i < 7; i++) {
        const p = newPayment()
        ids.push(p.id)
        await s.a.insert(p)
      }
      const first = await s.b.query({ limit: 3 })
      expect(first.payments.map((p) => p.id)).toEqual(ids.slice(4).reverse())
      expect(first.next).toBeTypeOf('string')
      // Recorded between two pages: the next pages neither shift nor repeat.
      await s.a.insert(newPayment())
      const second = await s.b.query({ limit: 3, cursor: first.next as string })
      expect(second.payments.map((p) => p.id)).toEqual(ids.slice(1, 4).reverse())
      const third = await s.b.query({ limit: 3, cursor: second.next as string })
      expect(third.payments.map((p) => p.id)).toEqual([ids[0]])
      expect(third.next).toBeUndefined()
      expect((await allPages(s.b, { order: 'oldest', limit: 2 })).slice(0, 7)).toEqual(ids)
      await expect(s.b.query({ order: 'oldest', cursor: first.next as string })).rejects.toMatchObject({
        code: 'invalid_request',
      })
      await expect(s.b.query({ cursor: 'nonsense' })).rejects.toMatchObject({ code: 'invalid_request' })
      await expect(s.b.query({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_request' })
    })

    it('filters by payer (any case), state, resource and time range', async () => {
      const s = await fresh()
      const payer = `0x${'ab'.repeat(20)}`
      const a = newPayment({ payer, resource: 'http://127.0.0.1/api/weather?city=paris' })
      const b = newPayment({ resource: 'http://127.0.0.1/api/stocks' })
      await s.a.insert(a)
      await s.a.insert(b)
      await s.a.transition(a.id, 'settled', { transaction: `0x${'cd'.repeat(32)}` })
      await sleep(5)
      const between = Date.now()
      await sleep(5)
      const c = newPayment({ payer, resource: 'http://127.0.0.1/api/weather?city=oslo' })
      await s.a.insert(c)
      const ids = async (q: PaymentQuery) => (await s.b.query(q)).payments.map((p) => p.id)
      expect(await ids({ payer: payer.toUpperCase().replace('0X', '0x') })).toEqual([c.id, a.id])
      expect(await ids({ state: ['settled'] })).toEqual([a.id])
      expect(await ids({ state: ['settled', 'verified'], payer })).toEqual([c.id, a.id])
      expect(await ids({ resource: '/api/weather' })).toEqual([c.id, a.id])
      expect(await ids({ resource: '/API/weather' })).toEqual([])
      expect(await ids({ from: between })).toEqual([c.id])
      expect(await ids({ to: between })).toEqual([b.id, a.id])
      expect(await ids({ from: between, payer, order: 'oldest' })).toEqual([c.id])
      const [settled] = (await s.b.query({ state: ['settled'] })).payments
      expect(settled).toMatchObject({
        id: a.id,
        payer,
        state: 'settled',
        amount: a.amount,
        transaction: `0x${'cd'.repeat(32)}`,
      })
      await expect(s.b.query({ state: ['nope' as 'settled'] })).rejects.toMatchObject({ code: 'invalid_request' })
    })
  })
}
