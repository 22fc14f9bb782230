/**
 * Set on a Node request by a paywall that serves `/__402x/credits` (a routes table, or
 * `x402Credits()`) as the request passes it, so that a per-route paywall after it knows its
 * 402 may offer a top-up there. A per-route paywall alone serves no such path: it offers none.
 */
export const creditsServedMark = Symbol.for('402x.creditsServed')

export type MarkedRequest = { [creditsServedMark]?: true }
