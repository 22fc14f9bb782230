import { headers as x402Headers } from '@402x/core'
import { presentedKey } from '../keys/presentedKey.js'
import { bearerToken } from '../paywall/credits.js'
import type { Proceed, RequestHead, Returned } from '../paywall/types.js'
import type { Closed, GraphQLGate } from './createGate.js'
import type { OperationPrice } from './priceOperation.js'
import { type Refusal, refusal, refusalOf } from './refusal.js'
import { unserved } from './unserved.js'

/** What the paywall decided about a batch's priced operations together, before any runs. */
export type BatchOpened =
  | { type: 'free' }
  /** The batch's refusal: each priced operation carries it, with its own price. */
  | { type: 'refused'; refusal: Refusal }
  /** Paid per operation (a credit token, an API key): each asks the paywall on its own. */
  | { type: 'each' }
  /** One x402 payment of the sum, verified; settled (or released) once every operation ended. */
  | { type: 'paid'; decision: Proceed; amount: bigint }

/** How a priced operation of a batch ended. */
export type BatchMember = { price: OperationPrice; errored: boolean }

/**
 * A batch funded per operation: it carries a credit token or an API key and no x402
 * payment (each operation is then drawn, and counted by a plan, on its own, as before).
 * Anything else (unpaid, or an x402 payment) is priced as one request: the sum.
 */
function fundedEach(gate: GraphQLGate, head: Request | RequestHead): boolean {
  const { headers } = head
  const { paywall } = gate
  const keys = paywall.config.keys
  // A key's plan pays its calls even beside a payment header (the paywall's keyFunding).
  if (keys && presentedKey(headers, keys.header) !== undefined) return true
  if (headers.get(x402Headers.paymentSignature) || headers.get(x402Headers.v1Payment)) return false
  return paywall.credits !== undefined && bearerToken(head) !== undefined
}

/**
 * Before a batch runs: the sum of its priced operations, checked against `maxPrice`, then one
 * question to the paywall for it (one 402 challenge for the sum, one x402 payment verified
 * for it), unless credit or a key pays each operation. With credit off, a batch of two or
 * more priced operations is refused: what fails could not be given back.
 */
export async function openBatch(
  gate: GraphQLGate,
  head: Request | RequestHead,
  prices: readonly OperationPrice[],
): Promise<BatchOpened> {
  const amount = prices.reduce((sum, price) => sum + price.amount, 0n)
  if (amount === 0n) return { type: 'free' }
  const { most, usd } = gate
  const dollars = usd(amount)
  if (most !== undefined && amount > most) {
    return refusedWith(
      'MAX_PRICE_EXCEEDED',
      'max_price_exceeded',
      `this batch's priced operations cost $${dollars} together, above the most one request may cost here ($${usd(most)}): nothing was run or charged; send fewer priced operations in one batch, or select fewer priced fields`,
      dollars,
    )
  }
  if (fundedEach(gate, head)) return { type: 'each' }
  if (!gate.paywall.credits && prices.length > 1) {
    return refusedWith(
      'BATCH_NOT_PAYABLE',
      'batch_not_payable',
      `this batch has ${prices.length} priced operations ($${dollars} together): one x402 payment pays a batch, and the price of an operation that fails entirely is given back as credit, which is off here (credits: false): nothing was run or charged; send each priced operation in a request of its own`,
      dollars,
    )
  }
  const asked = await gate.ask(head, amount, 'batch')
  if (asked.type !== 'decision') return asked
  const { decision } = asked
  if (prices.length > 1 && !decision.finishReturning) {
    // Not reached (an x402 payment with credit on can give back): never charge what failed.
    await decision.abort('this payment cannot give back the price of failed operations')
    return refusedWith(
      'BATCH_NOT_PAYABLE',
      'batch_not_payable',
      'this batch cannot be paid as one here: send each priced operation in a request of its own',
      dollars,
    )
  }
  return { type: 'paid', decision, amount }
}

const refusedWith = (code: string, reason: string, message: string, dollars: string): BatchOpened => ({
  type: 'refused',
  refusal: refusal(code, reason, message, dollars),
})

/**
 * After every operation of a paid batch ended: nothing was served (each priced operation
 * errored entirely, or the server failed the batch) and the payment is released; else it is
 * settled whole, and the price of the operations that errored entirely is given back
 * (`finishReturning`: credit, its token in `X-402x-Credit-Token`). Each priced operation's
 * `extensions.x402` says what it cost: `price`, `charged` and, given back, `returned` with
 * the credit's `creditToken` and `balance`. A settlement that fails refuses them all.
 */
export async function closeBatch(
  gate: GraphQLGate,
  paid: { decision: Proceed; amount: bigint },
  members: readonly BatchMember[],
  failed: boolean,
): Promise<Closed[]> {
  const { usd } = gate
  const { decision } = paid
  const cost = (m: BatchMember, charged: bigint, back?: Returned) => ({
    x402: {
      price: usd(m.price.amount),
      charged: usd(charged),
      ...(back ? given(back, m.price.amount, usd) : {}),
    },
  })
  if (failed || members.every((m) => m.errored)) {
    await decision.finish(unserved(failed ? 'batch_failed' : 'operation_failed'))
    return members.map((m) => ({ headers: [], extensions: cost(m, 0n) }))
  }
  const returned = members.reduce((sum, m) => (m.errored ? sum + m.price.amount : sum), 0n)
  if (returned === 0n || !decision.finishReturning) {
    // Nothing to give back (openBatch refused a batch of several that could not give back).
    const closed = await gate.served(decision, paid.amount)
    if ('refusal' in closed) return members.map(() => closed)
    return members.map((m) => ({ headers: closed.headers, extensions: cost(m, m.price.amount) }))
  }
  const outcome = await decision.finishReturning(returned)
  if (outcome instanceof Response) {
    const closed = await refusalOf(outcome, usd(paid.amount), 'batch')
    return members.map(() => ({ refusal: closed }))
  }
  return members.map((m) => ({
    headers: outcome.headers,
    extensions: m.errored ? cost(m, 0n, outcome.returned) : cost(m, m.price.amount),
  }))
}

/** An errored operation's share of what the batch gave back. */
function given(back: Returned, amount: bigint, usd: (amount: bigint) => string) {
  return {
    returned: usd(amount),
    refund: back.refund,
    ...(back.token ? { creditToken: back.token } : {}),
    ...(back.balance !== undefined ? { balance: usd(back.balance) } : {}),
    ...(back.transaction ? { transaction: back.transaction } : {}),
    ...(back.error ? { error: back.error } : {}),
  }
}
