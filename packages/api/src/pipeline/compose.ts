import { faultResponse } from '../paywall/responses.js'
import type { Decision } from '../paywall/types.js'
import type { PaidContext } from './context.js'

/**
 * One step of a paid request: answer (return a decision) or hand on (`return next()`).
 * A stage reads what the stages before it set on the context, and sets what it owns.
 */
export type Stage = (ctx: PaidContext, next: () => Promise<Decision>) => Promise<Decision>

/**
 * Runs `stages` in order over one context, as hono's `compose` does: one `dispatch`, one
 * error path (a thrown fault is answered with `faultResponse`: 503 for a store or chain
 * down, never served for free). `ctx.next` is the one closure a request allocates for it.
 */
export function compose(stages: readonly Stage[]): (ctx: PaidContext) => Promise<Decision> {
  return async function dispatch(ctx: PaidContext): Promise<Decision> {
    const stage = stages[ctx.index++]
    if (stage === undefined) throw new Error('402x: no stage of the pipeline answered this request')
    try {
      return await stage(ctx, ctx.next)
    } catch (error) {
      return { type: 'respond', response: faultResponse(error) }
    }
  }
}
