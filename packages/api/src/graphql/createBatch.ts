import type { Closed, GraphQLGate, Held, Opened } from './createGate.js'
import type { OperationRequest } from './creditOperation.js'
import { fullyErrored, type GraphQLResult } from './fullyErrored.js'
import { type BatchOpened, closeBatch, openBatch } from './payBatch.js'
import type { OperationPrice } from './priceOperation.js'
import { type Refusal, refusal } from './refusal.js'

/** One operation of a batch, as its server's hooks take it through. */
export type BatchSlot = {
  /**
   * Its price is known (`undefined`: free): resolves once every operation of the batch is
   * priced (or ended before it), with what the paywall decided for the batch.
   */
  open(head: OperationRequest | undefined, price: OperationPrice | undefined): Promise<Opened>
  /** It ended (any way); one it holds and did not close is released with `reason`. */
  end(reason: string): Promise<void>
  /** The server fails the whole batch (its answer is an error): nothing of it is charged. */
  fail(): void
}

/** What the HTTP answer of a batch paid as one carries: the challenge's or the receipt's. */
export type BatchAnswer = { status?: number; headers: [string, string][] }

type Member = {
  reported: boolean
  ended: boolean
  /** Priced: part of the sum. */
  price?: OperationPrice | undefined
  errored?: boolean
  /** What it was told at its close. */
  closed?: Promise<Closed>
  /** Paid per operation: its own hold. */
  own?: Held
}

type Gate = { resolve(): void; promise: Promise<void> }
const gate = (): Gate => {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { resolve, promise }
}

/**
 * The operations of one batched HTTP request, priced and paid together: each reports its
 * price; once all did (or ended before), the batch is asked about once (openBatch: the sum,
 * `maxPrice`, one challenge or one payment), unless credit or a key pays each; once all
 * ended, a paid batch is settled or released once (closeBatch). `size`: how many operations
 * the batch has, when the server says (Yoga); else operations join until `seal()` (Apollo).
 * Money: nothing settles before every operation ended, and a failed batch charges nothing.
 */
export function createBatch(g: GraphQLGate, size?: number) {
  const members: Member[] = []
  let sealed = size !== undefined
  let failed = false
  let head: OperationRequest | undefined
  let opening: Promise<BatchOpened> | undefined
  let closing: Promise<Closed[]> | undefined
  let answer: BatchAnswer | undefined
  const priced = gate()
  const ended = gate()

  const check = () => {
    if (!sealed || (size !== undefined && members.length < size)) return
    if (members.every((m) => m.reported)) priced.resolve()
    if (members.every((m) => m.ended)) ended.resolve()
  }

  const openPhase = async (): Promise<BatchOpened> => {
    const prices = members.flatMap((m) => (m.price ? [m.price] : []))
    if (failed) {
      const sum = g.usd(prices.reduce((total, p) => total + p.amount, 0n))
      return { type: 'refused', refusal: refusal('BATCH_FAILED', 'batch_failed', failedMessage, sum, 500) }
    }
    const opened = await openBatch(g, head as OperationRequest, prices)
    if (opened.type === 'refused') answer = { status: opened.refusal.status, headers: opened.refusal.headers }
    return opened
  }

  const closePhase = async (paid: Extract<BatchOpened, { type: 'paid' }>): Promise<Closed[]> => {
    const inSum = members.filter((m) => m.price)
    const closed = await closeBatch(
      g,
      paid,
      inSum.map((m) => ({ price: m.price as OperationPrice, errored: m.errored ?? true })),
      failed,
    )
    const first = closed[0]
    if (first) {
      answer = 'refusal' in first ? { status: first.refusal.status, headers: first.refusal.headers } : first
    }
    return closed
  }

  /** A member's share of the batch payment: closed once, when every operation ended. */
  const share = (m: Member, paid: Extract<BatchOpened, { type: 'paid' }>): Held => {
    const finish = (result: GraphQLResult | undefined) => {
      if (!m.closed) {
        m.ended = true
        m.errored = result ? fullyErrored((m.price as OperationPrice).pricedRoots, result) : true
        const index = members.filter((x) => x.price).indexOf(m)
        m.closed = (async () => {
          check()
          await ended.promise
          closing ??= closePhase(paid)
          return (await closing)[index] ?? { headers: [] }
        })()
      }
      return m.closed
    }
    return {
      type: 'proceed',
      price: m.price as OperationPrice,
      close: (result) => finish(result),
      release: async () => {
        await finish(undefined)
      },
    }
  }

  /** A member paid on its own (credit, a key): settled once the batch is known not to fail. */
  const alone = (m: Member, own: Held): Held => ({
    type: 'proceed',
    price: own.price,
    close: async (result) => {
      if (m.ended) return { headers: [] }
      m.ended = true
      check()
      await ended.promise
      if (!failed) return own.close(result)
      await own.release('batch_failed')
      return { headers: [] }
    },
    release: async (reason) => {
      if (m.ended) return
      m.ended = true
      check()
      await own.release(reason)
    },
  })

  const slot = (m: Member): BatchSlot => ({
    async open(h, price) {
      if (m.reported) throw new Error('x402GraphQL(): an operation of a batch was priced twice')
      m.reported = true
      if (!price || price.amount === 0n) {
        check()
        return { type: 'free' }
      }
      // A priced subscription, or a bad multiplier, is refused on its own, out of the sum.
      const stop = price.kind === 'subscription' || price.invalid !== undefined ? g.limits(price) : undefined
      if (stop) {
        check()
        return { type: 'refused', refusal: stop }
      }
      if (!h) throw new TypeError('x402GraphQL(): a priced operation of a batch came with no request')
      m.price = price
      head ??= h
      check()
      await priced.promise
      opening ??= openPhase()
      const opened = await opening
      // It ended while the batch was being priced (the server answered it without us): it
      // holds nothing, and counts as errored in a batch paid as one.
      if (m.ended) return { type: 'free' }
      if (opened.type === 'free') {
        m.price = undefined
        return opened
      }
      if (opened.type === 'refused') return { type: 'refused', refusal: ownShare(opened.refusal, g.usd(price.amount)) }
      if (opened.type === 'paid') return share(m, opened)
      const own = await g.open(h, price)
      if (own.type !== 'proceed') return own
      m.own = alone(m, own)
      return m.own
    },
    async end(reason) {
      if (m.own) return m.own.release(reason)
      if (m.closed) return void (await m.closed)
      m.reported = true
      if (m.price && opening) {
        // Priced and held: it ended with no result to judge (its execution threw).
        const opened = await opening.catch(() => undefined)
        if (opened?.type === 'paid') return void (await share(m, opened).close({ data: null }))
      }
      m.ended = true
      check()
    },
    fail() {
      failed = true
    },
  })

  return {
    /** A new operation of the batch; one that comes after `seal()` is refused, charged nothing. */
    join(): BatchSlot {
      if (sealed && (size === undefined || members.length >= size)) return late
      const m: Member = { reported: false, ended: false }
      members.push(m)
      return slot(m)
    },
    /** No more operations join (Apollo starts every operation of a batch at once). */
    seal() {
      sealed = true
      check()
    },
    /** The status and headers the batch's HTTP answer takes, when it was paid as one. */
    answer: (): BatchAnswer | undefined => answer,
  }
}

const failedMessage =
  'the server failed this batch (its answer is an error): nothing of it was run as paid, and nothing was charged'

/** The batch's refusal, on one of its operations: its own price, and the batch's. */
function ownShare(batch: Refusal, price: string): Refusal {
  return { ...batch, extensions: { ...batch.extensions, price, batchPrice: batch.extensions.price } }
}

/** An operation that joined a batch already sealed: it cannot be paid with the others. */
const late: BatchSlot = {
  open: async () => ({
    type: 'refused',
    refusal: refusal(
      'BATCH_NOT_COORDINATED',
      'batch_not_coordinated',
      'this operation of a batch started after the batch was priced, so it cannot be paid with it: nothing was run or charged; send it in a request of its own',
      '0',
    ),
  }),
  end: async () => {},
  fail: () => {},
}
