// The ledger's `settling` write: skipped when the settlement begins soon after the payment
// was recorded (one commit fewer per paid request), written when the handler ran long; and
// the reconciler of the serving process never touches a payment it is still serving.
import { createServer, type Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createFacilitator } from '@402x/facilitator'
import type { FacilitatorLike } from '@402x/facilitator/client'
import { createSqliteLedger, type Ledger, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ageLedger } from '../helpers/ageLedger.js'
import { recordVerified } from '../helpers/payments.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

let stack: Stack
const servers: Server[] = []

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  for (const s of servers) await close(s)
  await stack?.stop()
})

async function serve(app: express.Express) {
  const server = createServer(app)
  servers.push(server)
  return listen(server)
}

async function requirementsOf(url: string): Promise<PaymentRequirements> {
  const res = await fetch(url)
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error(`no PAYMENT-REQUIRED from ${url}`)
  return decoded.value.accepts[0] as PaymentRequirements
}

const pay = (requirements: PaymentRequirements, buyer = stack.chain.buyers[0]!) =>
  encodeHeader(createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements }))

/** A promise and the function that resolves it. */
function signal(): { wait: Promise<void>; go: () => void } {
  let go!: () => void
  const wait = new Promise<void>((resolve) => {
    go = resolve
  })
  return { wait, go }
}

/**
 * The real facilitator, whose answer to /settle is held back after the chain has it:
 * `onChain` resolves then, and `release()` lets the answer through.
 */
function holdingSettle(real: FacilitatorLike) {
  const landed = signal()
  const gate = signal()
  const facilitator: FacilitatorLike = {
    supported: () => real.supported(),
    verify: (payload, requirements) => real.verify(payload, requirements),
    reconcile: (request) => real.reconcile(request),
    settle: async (payload, requirements) => {
      const settled = await real.settle(payload, requirements)
      landed.go()
      await gate.wait
      return settled
    },
  }
  return { facilitator, onChain: landed.wait, release: gate.go }
}

/** A real SQLite ledger that also notes each state a payment is moved to. */
function notingLedger(path: string): { ledger: Ledger; moves: string[] } {
  const inner = createSqliteLedger({ path })
  const moves: string[] = []
  return {
    moves,
    ledger: {
      ...inner,
      transition: (id, to, update) => {
        moves.push(to)
        return inner.transition(id, to, update)
      },
    },
  }
}

describe("the ledger's settling write", () => {
  it('is skipped when the handler answers at once: verified → settled, one commit fewer', async () => {
    const { ledger, moves } = notingLedger(stack.paywall().ledger)
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall(), ledger, price: 0.01 }), (_req, res) => {
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': pay(await requirementsOf(url)) } })
    expect(res.status).toBe(200)
    expect(moves).toEqual(['settled'])
    const [row] = await ledger.list()
    expect(row).toMatchObject({ state: 'settled' })
    expect(row?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
  })

  it('is written when the handler ran for longer than a second, before the settlement', async () => {
    const { ledger, moves } = notingLedger(stack.paywall().ledger)
    const app = express()
    app.get('/paid', x402Middleware({ ...stack.paywall(), ledger, price: 0.01 }), (_req, res) => {
      setTimeout(() => res.json({ ok: true }), 1_100)
    })
    const url = `${await serve(app)}/paid`
    const res = await fetch(url, { headers: { 'PAYMENT-SIGNATURE': pay(await requirementsOf(url)) } })
    expect(res.status).toBe(200)
    expect(moves).toEqual(['settling', 'settled'])
  })

  it('a payment settled on chain but left `verified` by a crash is reconciled from the chain', async () => {
    const options = stack.paywall()
    const app = express()
    const middleware = x402Middleware({ ...options, price: 0.01 })
    app.get('/paid', middleware, (_req, res) => {
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const requirements = await requirementsOf(url)
    const buyer = stack.chain.buyers[1]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
    // The process wrote `verified`, settled at once (no `settling` write), then crashed.
    const ledger = createSqliteLedger({ path: options.ledger })
    const id = await recordVerified(ledger, { payment, requirements, payer: buyer.address, url })
    expect((await stack.facilitator.settle(payment, requirements)).success).toBe(true)
    ageLedger(options.ledger)
    expect(await middleware.paywall.reconcile()).toBe(1)
    expect(await ledger.get(id)).toMatchObject({ state: 'reconciled', undelivered: true })
    await ledger.close()
  })

  it("this process's reconciler leaves a payment it is still settling alone, however old its row", async () => {
    const options = stack.paywall()
    const { facilitator, onChain, release } = holdingSettle(stack.facilitator)
    const app = express()
    const middleware = x402Middleware({ ...options, facilitator, price: 0.01 })
    app.get('/paid', middleware, (_req, res) => {
      res.json({ ok: true })
    })
    const url = `${await serve(app)}/paid`
    const answer = fetch(url, {
      headers: { 'PAYMENT-SIGNATURE': pay(await requirementsOf(url), stack.chain.buyers[2]!) },
    })
    await onChain
    // The row looks abandoned (untouched for a minute) and the chain says it was paid.
    ageLedger(options.ledger)
    expect(await middleware.paywall.reconcile()).toBe(0)
    release()
    const res = await answer
    expect(res.status).toBe(200)
    expect(res.headers.get('payment-response')).toBeTruthy()
    const ledger = createSqliteLedger({ path: options.ledger })
    try {
      const [row] = await ledger.list()
      // Settled by the request itself, and not flagged as undelivered (which would serve a
      // signed-in retry of it once more for free).
      expect(row).toMatchObject({ state: 'settled' })
      expect(row?.undelivered).toBeUndefined()
    } finally {
      await ledger.close()
    }
  })

  it("another process's reconciler leaves a payment that process recorded after the listing: no stale undelivered flag", async () => {
    // Its own chain: automine is turned off to keep a settlement unconfirmed.
    const own = await startStack()
    try {
      const rpc = (method: string, params: unknown[] = []) =>
        own.chain.publicClient.request({ method: method as never, params: params as never })
      // Two paywalls on one ledger file, as two processes sharing it. The serving one's
      // facilitator stops waiting for the receipt after 0.5 s (`settlement_pending`).
      const options = own.paywall()
      const serving = x402Middleware({
        ...options,
        facilitator: createFacilitator({
          chains: [{ network: own.chain.network, rpcUrl: own.chain.rpcUrl }],
          privateKeys: [own.chain.facilitator.privateKey],
          receiptTimeoutMs: 500,
        }),
        price: 0.01,
      })
      // The other's reconciler asks the real facilitator, once let through.
      const gate = signal()
      const real = own.facilitator
      const other = x402Middleware({
        ...options,
        facilitator: {
          supported: () => real.supported(),
          verify: (payload, requirements) => real.verify(payload, requirements),
          settle: (payload, requirements) => real.settle(payload, requirements),
          reconcile: async (request) => {
            await gate.wait
            return real.reconcile(request)
          },
        },
        price: 0.01,
      })
      const app = express()
      app.get('/paid', serving, (_req, res) => {
        res.json({ ok: true })
      })
      const server = createServer(app)
      const url = `${await listen(server)}/paid`
      try {
        const buyer = own.chain.buyers[0]!
        await rpc('evm_setAutomine', [false])
        const answer = fetch(url, { headers: { 'PAYMENT-SIGNATURE': pay(await requirementsOf(url), buyer) } })
        // The settlement is sent: its transaction waits in anvil's pool.
        const sent = async () => Number(((await rpc('txpool_status')) as { pending: string }).pending) > 0
        for (let i = 0; i < 200 && !(await sent()); i++) await new Promise((r) => setTimeout(r, 10))
        expect(await sent()).toBe(true)
        // The other process lists the row (untouched for a minute, as far as it can tell)...
        ageLedger(options.ledger)
        const reconciling = other.paywall.reconcile()
        // ...while the serving one records it `pending` and serves it.
        const res = await answer
        expect(res.status).toBe(200)
        const ledger = createSqliteLedger({ path: options.ledger })
        try {
          expect((await ledger.list())[0]).toMatchObject({ state: 'pending', reason: 'settlement_pending' })
          await rpc('evm_mine')
          await rpc('evm_setAutomine', [true])
          // The chain now says paid; the listing said `verified` (never served). It is stale.
          gate.go()
          expect(await reconciling).toBe(0)
          const [row] = await ledger.list()
          expect(row).toMatchObject({ state: 'pending' })
          expect(row?.undelivered).toBeUndefined()
          // Reconciled afterwards from what the row says now: served, so not flagged.
          ageLedger(options.ledger)
          expect(await other.paywall.reconcile()).toBe(1)
          const [done] = await ledger.list()
          expect(done).toMatchObject({ state: 'reconciled' })
          expect(done?.undelivered).toBeUndefined()
        } finally {
          await ledger.close()
        }
      } finally {
        await close(server)
        await serving.paywall.close()
        await other.paywall.close()
      }
    } finally {
      await own.stop()
    }
  })

  for (const when of ['before', 'while'] as const) {
    it(`a served payment that another process's reconciler closes ${when} it is recorded is not flagged undelivered`, async () => {
      const options = stack.paywall()
      // The serving paywall's facilitator holds its /settle answer after the chain has it.
      const { facilitator, onChain, release: answerSettle } = holdingSettle(stack.facilitator)
      const serving = x402Middleware({ ...options, facilitator, price: 0.01 })
      // The other process's ledger, on the same file, can hold its last move (`reconciled`).
      const inner = createSqliteLedger({ path: options.ledger })
      const lastMove = signal()
      const walkGate = signal()
      const held: Ledger = {
        ...inner,
        transition: async (id, to, update) => {
          if (to === 'reconciled' && when === 'while') {
            lastMove.go()
            await walkGate.wait
          }
          return inner.transition(id, to, update)
        },
      }
      const other = x402Middleware({ ...options, ledger: held, price: 0.01 })
      const app = express()
      app.get('/paid', serving, (_req, res) => {
        res.json({ ok: true })
      })
      const url = `${await serve(app)}/paid`
      const answer = fetch(url, {
        headers: { 'PAYMENT-SIGNATURE': pay(await requirementsOf(url), stack.chain.buyers[3]!) },
      })
      await onChain
      ageLedger(options.ledger)
      const reconciling = other.paywall.reconcile()
      if (when === 'before') {
        // The other process walks the row to `reconciled` and flags it, all before the record.
        expect(await reconciling).toBe(1)
        expect((await inner.list())[0]).toMatchObject({ state: 'reconciled', undelivered: true })
        answerSettle()
      } else {
        // The other process has moved the row to `pending`, and waits before `reconciled`.
        await lastMove.wait
        expect((await inner.list())[0]).toMatchObject({ state: 'pending', reason: 'reconciling' })
        answerSettle()
      }
      const res = await answer
      expect(res.status).toBe(200)
      if (when === 'while') {
        walkGate.go()
        expect(await reconciling).toBe(0)
      }
      const [row] = await inner.list()
      expect(row).toMatchObject({ state: 'reconciled' })
      expect(row?.undelivered).toBeUndefined()
      await serving.paywall.close()
      await other.paywall.close()
    })
  }
})
