/**
 * Which apps (Express's `req.app`) have a paywall serving `/__402x/credits` (a routes table,
 * or `x402Credits()`) that requests pass through, so that a per-route paywall knows its 402
 * may offer a top-up there. Kept per app, not per request: a free request through a routes
 * table costs one lookup, and the request object keeps its shape. A request with no app
 * (plain Node `http`) is marked itself. A per-route paywall alone offers no top-up.
 */
const servedApps = new WeakSet<object>()
const servedMark = Symbol.for('402x.creditsServed')

type Req = { app?: object; [servedMark]?: true }

/** Notes that a paywall serving `/__402x/credits` saw this request. */
export function markCreditsServed(req: object): void {
  const { app } = req as Req
  if (app) {
    if (!servedApps.has(app)) servedApps.add(app)
  } else (req as Req)[servedMark] = true
}

/** Whether a paywall serving `/__402x/credits` is known to sit in this request's way. */
export function creditsServedFor(req: object): boolean {
  const { app } = req as Req
  return app ? servedApps.has(app) : (req as Req)[servedMark] === true
}
