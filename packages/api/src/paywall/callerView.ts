import { randomUUID } from 'node:crypto'
import type { PaidContext } from '../pipeline/context.js'
import type { X402Caller } from './decision.js'

export type { X402Caller } from './decision.js'

/** The request headers that carry the caller: removed from what a caller sends, always. */
export const trackingHeaderNames = ['x-402x-consumer', 'x-402x-plan', 'x-402x-request-id', 'x-402x-paid'] as const

/** The caller of a request the pipeline decided to serve, from what its stages set. */
export function callerView(ctx: PaidContext): X402Caller | undefined {
  const asset = ctx.payment?.requirements.asset ?? ctx.rt.config.asset.address
  const paid = ctx.price !== undefined ? { amount: ctx.price, asset } : undefined
  const base = { requestId: randomUUID() }
  if (ctx.apiKey) {
    const included = ctx.apiKey.plan.billing === 'included' && !ctx.apiKey.over
    return {
      ...base,
      kind: 'key',
      consumer: ctx.apiKey.record.id,
      plan: ctx.apiKey.plan.name,
      ...(paid ? { paid: included ? { amount: '0', asset } : paid } : {}),
    }
  }
  if (ctx.payment) {
    return { ...base, kind: 'payer', consumer: ctx.payment.exact.authorization.from, ...(paid ? { paid } : {}) }
  }
  if (ctx.creditAccount) return { ...base, kind: 'credit', consumer: ctx.creditAccount, ...(paid ? { paid } : {}) }
  return undefined
}

/** The caller as request headers (`trackingHeaders: true`). */
export function trackingPairs(caller: X402Caller): [string, string][] {
  return [
    ['x-402x-consumer', caller.consumer],
    ...(caller.plan ? ([['x-402x-plan', caller.plan]] as [string, string][]) : []),
    ['x-402x-request-id', caller.requestId],
    ...(caller.paid ? ([['x-402x-paid', `${caller.paid.amount} ${caller.paid.asset}`]] as [string, string][]) : []),
  ]
}

/** Removes the tracking headers a caller sent (a Web request's, where they can be changed). */
export function stripTracking(headers: Headers): void {
  for (const name of trackingHeaderNames) {
    if (!headers.has(name)) continue
    try {
      headers.delete(name)
    } catch {
      // An immutable request (some runtimes): the handler reads `x402Of(request)` instead.
    }
  }
}

const callers = new WeakMap<object, X402Caller>()

/** Remembers the caller of a Web request, for `x402Of`. */
export const rememberCaller = (request: object, caller: X402Caller | undefined) => {
  if (caller) callers.set(request, caller)
}

/**
 * Who called, inside a fetch or Next.js handler guarded by `withX402`: the key and plan, the
 * payer, or the credit account, and what this call paid. `undefined` for a free call.
 *
 * @example
 * import { withX402, x402Of } from '402x-api/fetch'
 * export default { fetch: withX402({ price: 0.01 }, (request) => Response.json({ you: x402Of(request)?.consumer })) }
 */
export const x402Of = (request: Request): X402Caller | undefined => callers.get(request)
