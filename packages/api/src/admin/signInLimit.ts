import { type ResolvedLimit, resolveRateLimit } from '../ratelimit/resolveRateLimit.js'
import { takeLimits } from '../ratelimit/takeLimits.js'
import type { RateLimitStore } from '../ratelimit/types.js'

/** Failed sign-ins allowed per caller address (IPv6 by /64), on each door apart. */
export const failedSignIns = { maxRequests: 10, windowMs: 15 * 60_000 } as const

/**
 * The two doors: the admin token (dashboard, admin API, metrics) and the developer portal
 * (an API key or a signed wallet message). Each counts apart, so that a developer's typos
 * never lock the operator out, nor the other way round.
 */
const doors = {
  admin: {
    prefix: '402x:signin',
    name: 'admin-sign-in',
    message:
      'too many failed sign-ins from this address: wait the Retry-After seconds, then send the admin token the server was started with',
  },
  portal: {
    prefix: '402x:portal-signin',
    name: 'portal-sign-in',
    message:
      'too many failed portal sign-ins from this address: wait the Retry-After seconds, then sign in with a valid API key or a freshly signed wallet message',
  },
} as const

/** Which sign-in an attempt is counted for. */
export type SignInDoor = keyof typeof doors

const limits = new WeakMap<RateLimitStore, Partial<Record<SignInDoor, ResolvedLimit>>>()

/** The door's limit on a store: its counts under `<prefix>:<ip>`, shared by every process on it. */
function limitOn(store: RateLimitStore, door: SignInDoor): ResolvedLimit {
  let known = limits.get(store)
  if (!known) {
    known = {}
    limits.set(store, known)
  }
  let limit = known[door]
  if (!limit) {
    const { prefix } = doors[door]
    limit = resolveRateLimit(
      { ...failedSignIns, ...doors[door] },
      // A store that is down lets sign-ins through (logged once): the secret is still checked,
      // and an outage never locks the operator or the developers out.
      { where: `the ${door} sign-in limit`, scope: prefix, store, onStoreError: 'fail-open' },
    )
    known[door] = limit
  }
  return limit
}

const noHeaders = { get: () => null }

/** One attempt, counted: `done(true)` when it signed in gives the count back. */
export type SignInAttempt = { done(signedIn: boolean): Promise<void> }

/**
 * Counts one attempt to present a secret (`admin`: the admin token, to the dashboard's
 * sign-in or as a bearer token to the admin API; `portal`: an API key or a signed wallet
 * message, to the developer portal's sign-in) before it is checked, in the paywall's
 * rate-limit store: after 10 failed attempts from one address in 15 minutes, every attempt
 * from it at that door is answered 429 `rate_limited` with `Retry-After` until the window
 * has passed, the right secret included (nothing is checked, so nothing can be guessed). An
 * attempt that signs in is given back, so only failures count.
 *
 * @example
 * const attempt = await signInAttempt(rt.config.stores.rateLimits, ip)
 * if (attempt instanceof Response) return attempt
 * const refused = checkAdminAuth(…)
 * await attempt.done(!refused)
 */
export async function signInAttempt(
  store: RateLimitStore,
  ip: string | undefined,
  door: SignInDoor = 'admin',
): Promise<Response | SignInAttempt> {
  const taken = await takeLimits([limitOn(store, door)], {
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
