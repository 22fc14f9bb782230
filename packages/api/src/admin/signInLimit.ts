import { type ResolvedLimit, resolveRateLimit } from '../ratelimit/resolveRateLimit.js'
import { takeLimits } from '../ratelimit/takeLimits.js'
import type { RateLimitStore } from '../ratelimit/types.js'

/** Failed sign-ins with the admin token allowed per caller address (IPv6 by /64). */
export const failedSignIns = { maxRequests: 10, windowMs: 15 * 60_000 } as const

const limits = new WeakMap<RateLimitStore, ResolvedLimit>()

/** The limit on a store: its counts under `402x:signin:<ip>`, shared by every process on it. */
function limitOn(store: RateLimitStore): ResolvedLimit {
  let limit = limits.get(store)
  if (!limit) {
    limit = resolveRateLimit(
      {
        ...failedSignIns,
        prefix: '402x:signin',
        name: 'admin-sign-in',
        message:
          'too many failed sign-ins from this address: wait the Retry-After seconds, then send the admin token the server was started with',
      },
      // A store that is down lets sign-ins through (logged once): the token is still checked,
      // and an outage never locks the operator out of the dashboard and the admin API.
      { where: 'the admin sign-in limit', scope: '402x:signin', store, onStoreError: 'fail-open' },
    )
    limits.set(store, limit)
  }
  return limit
}

const noHeaders = { get: () => null }

/** One attempt, counted: `done(true)` when it signed in gives the count back. */
export type SignInAttempt = { done(signedIn: boolean): Promise<void> }

/**
 * Counts one attempt to present the admin token (the dashboard's sign-in, a bearer token
 * sent to the admin API) before the token is compared, in the paywall's rate-limit store:
 * after 10 failed attempts from one address in 15 minutes, every attempt from it is
 * answered 429 `rate_limited` with `Retry-After` until the window has passed, the right
 * token included (nothing is compared, so nothing can be guessed). An attempt that signs in
 * is given back, so only failures count.
 *
 * @example
 * const attempt = await signInAttempt(rt.config.stores.rateLimits, ip)
 * if (attempt instanceof Response) return attempt
 * const refused = checkAdminAuth(…)
 * await attempt.done(!refused)
 */
export async function signInAttempt(store: RateLimitStore, ip: string | undefined): Promise<Response | SignInAttempt> {
  const taken = await takeLimits([limitOn(store)], {
    ip,
    key: undefined,
    token: undefined,
    payer: undefined,
    req: undefined,
    headers: noHeaders,
  })
  if (taken instanceof Response) return taken
  return {
    async done(signedIn) {
      if (signedIn) await taken.undo()
    },
  }
}
