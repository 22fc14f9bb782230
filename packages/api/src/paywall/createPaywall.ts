import type { EventEmitter } from 'node:events'
import { X402Error } from '@402x/core'
import { adminPath, adminRoute } from '../admin/adminRoute.js'
import { needsKeys } from '../admin/serveAdmin.js'
import { openAnalytics } from '../analytics/openAnalytics.js'
import { dashboardPath, dashboardRoute } from '../dashboard/dashboardRoute.js'
import { discoveryRoutes } from '../discovery/serveDiscovery.js'
import { createObservability } from '../observe/createObservability.js'
import { metricsEndpoint } from '../observe/metricsEndpoint.js'
import { compose, type Stage } from '../pipeline/compose.js'
import { type HandleContext, PaidContext } from '../pipeline/context.js'
import { createCreditFastPath, creditFastPathKey } from '../pipeline/creditFastPath.js'
import { createKeyFastPath, keyFastPathKey } from '../pipeline/keyFastPath.js'
import { startOf, watchDecision, watching } from '../pipeline/requestEvent.js'
import { createRuntime } from '../pipeline/runtime.js'
import { adminEndpoint } from '../pipeline/stages/adminEndpoint.js'
import { apiKey } from '../pipeline/stages/apiKey.js'
import { creditFunding } from '../pipeline/stages/creditFunding.js'
import { creditsEndpoint } from '../pipeline/stages/creditsEndpoint.js'
import { dashboardEndpoint } from '../pipeline/stages/dashboardEndpoint.js'
import { decodePayment } from '../pipeline/stages/decodePayment.js'
import { exactPayment } from '../pipeline/stages/exactPayment.js'
import { identity } from '../pipeline/stages/identity.js'
import { keyFunding } from '../pipeline/stages/keyFunding.js'
import { payerRateLimit } from '../pipeline/stages/payerRateLimit.js'
import { portalEndpoint } from '../pipeline/stages/portalEndpoint.js'
import { price } from '../pipeline/stages/price.js'
import { rateLimit } from '../pipeline/stages/rateLimit.js'
import { requestView } from '../pipeline/stages/requestView.js'
import { route } from '../pipeline/stages/route.js'
import { resolvePortal } from '../portal/portalOptions.js'
import { portalPath, portalRoute } from '../portal/portalRoute.js'
import { startWebhooks } from '../webhooks/startWebhooks.js'
import { joinApp } from './appPaywalls.js'
import { callerView } from './callerView.js'
import { creditsPath } from './credits.js'
import { matchRequest } from './matchRequest.js'
import { operatorCredits, type PaywallCredits } from './operatorCredits.js'
import { operatorKeys, type PaywallKeys } from './operatorKeys.js'
import { reconcilePayments } from './reconcilePayments.js'
import { type ResolvedPaywall, type ResolvedRoute, resolvePaywall } from './resolvePaywall.js'
import type { Decision, PaywallEvents, PaywallOptions, RequestHead } from './types.js'

export type { HandleContext }

export type Paywall = {
  /** The resolved settings. */
  config: ResolvedPaywall
  /** Lifecycle events: `verified`, `payment`, `released`, `failed`, `rejected`. */
  events: EventEmitter<PaywallEvents>
  /**
   * The priced route for a method and the request line's target, or `undefined` when it is
   * free (cheap: no allocation for a plain path). A path that is not valid, or spelled in a
   * way frameworks read differently under a priced route, gets a route that `handle` answers
   * with 400 (`matchRequest`).
   */
  match(method: string, rawPath: string): ResolvedRoute | undefined
  /**
   * Decides about one request (docs/architecture.md, "The seam"). `context.req` is the framework's own
   * request, shown to pricing code; `context.ip` the caller's address, for free tiers.
   */
  handle(request: Request | RequestHead, route?: ResolvedRoute, context?: HandleContext): Promise<Decision>
  /** Moves unfinished payments (verified, settling, pending) to their final state from the chain. */
  reconcile(): Promise<number>
  /** Prepaid credit, for operators; `undefined` when `credits: false`. */
  credits: PaywallCredits | undefined
  /** API keys, for operators; `undefined` without `keys`. */
  keys: PaywallKeys | undefined
  /** Stops the reconciler and closes the ledger. */
  close(): Promise<void>
}

/**
 * A paid request's stages, in order (docs/architecture.md, "The request pipeline"). A new
 * stage is one file, listed here.
 */
const stages: readonly Stage[] = [
  route, // refused paths, discovery, Host, OPTIONS
  adminEndpoint, // /__402x/admin: the admin API (never priced)
  dashboardEndpoint, // /__402x/dashboard: the seller's page (never priced)
  metricsEndpoint, // /__402x/metrics: Prometheus (never priced)
  portalEndpoint, // /__402x/portal: the developer portal (public, never priced)
  identity, // who calls; the payment header decoded once
  requestView, // the request as pricing code sees it
  rateLimit, // 429 before anything is verified, held or run
  apiKey, // a key's plan: 401, its limits and quota
  creditsEndpoint, // /__402x/credits: show, revoke, price a top-up
  price, // skip, validate, free tier, price
  keyFunding, // a key's call: included, or drawn from its credit
  creditFunding, // bearer token: hold or reserve credit
  decodePayment, // no payment: 402; else match it
  payerRateLimit, // limits counted by the payer its signature proves
  exactPayment, // lock → verify → record → proceed (settle in finish)
]
const run = compose(stages)

/**
 * The framework-neutral core behind every adapter: a function of a Web `Request` that
 * returns a decision.
 *
 * @example
 * const paywall = createPaywall({ price: 0.01 })
 * const decision = await paywall.handle(request)
 */
export function createPaywall(options: PaywallOptions): Paywall {
  // Read before anything is opened: a bad value then leaves nothing to close.
  const interval = options.reconcileIntervalMs ?? reconcileFromEnv() ?? 30_000
  const portal = resolvePortal(options.portal, options.keys?.plans, process.env)
  const config = resolvePaywall(options)
  const observe = createObservability(options, config)
  const { ledger, facilitator, credits } = config
  const rt = createRuntime(options, config, config.stores.locks)
  observe.attach(rt)

  let webhooks: ReturnType<typeof startWebhooks>
  try {
    // The credit store opened now, not on the first credit request: a SQLite file written by
    // a newer release stops start-up with its message, as the payments ledger's does.
    credits?.service.ledger()
    webhooks = startWebhooks(rt)
  } catch (error) {
    // Refused at start-up (a file from a newer release, a webhook a store cannot carry): nothing is left open.
    void credits?.service.close()
    void ledger.close()
    void config.keys?.close()
    void config.stores.release()
    throw error
  }
  const keys =
    config.keys &&
    operatorKeys(config.keys, {
      credits,
      decimals: rt.decimals,
      // `x402_test_` keys on the local chain (`402x dev`), `x402_live_` on a real network.
      mode: config.network === 'eip155:31337' ? 'test' : 'live',
      codePlans: options.keys?.plans ?? [],
      webhooks,
    })
  if (keys) rt.adminKeys = keys
  // One dashboard per ledger: every paywall of the process on it feeds the same analytics.
  const analytics = openAnalytics(config)
  rt.analytics = analytics.analytics
  const detachAnalytics = analytics.attach(rt.events)
  if (portal) rt.portal = portal
  // One app with the other paywalls on its ledger: its portal lists every priced route of them.
  const leaveApp = joinApp(rt)
  const specials = [
    ...discoveryRoutes(config),
    ...(credits ? [{ path: creditsPath, route: rt.creditsRoute }] : []),
    // Keys and plans belong to a paywall with `keys`: without, those paths are routed as any other.
    { path: adminPath, route: adminRoute, prefix: true, ...(keys ? {} : { unless: needsKeys }) },
    { path: dashboardPath, route: dashboardRoute, prefix: true },
    ...observe.specials,
    ...(portal ? [{ path: portalPath, route: portalRoute, prefix: true }] : []),
  ]
  const match: Paywall['match'] = (method, rawPath) => matchRequest(config, specials, method, rawPath)

  const handle: Paywall['handle'] = (request, knownRoute, context = {}) => {
    try {
      const url = (request as RequestHead).parsedUrl ?? new URL(request.url)
      const route = knownRoute ?? match(request.method, url.pathname)
      // A free route costs a match and nothing more: the pipeline never runs for it.
      if (!route) return Promise.resolve(skip)
      // The URL callers use: configured, else the adapter's validated Host; the path is the matched one.
      const ctx = new PaidContext(rt, request, url, route, context, config.publicUrl ?? url.origin, run)
      // `request` events (dashboard, metrics, logs): only while something listens.
      const start = !route.internal && watching(rt.events) ? startOf(request.headers.get('x-request-id')) : undefined
      return run(ctx).then((decision) => {
        const out = decision.type === 'proceed' ? withCaller(decision, ctx, start?.requestId) : decision
        return start ? watchDecision(ctx, out, start) : out
      })
    } catch (error) {
      // A promise either way, as an async function gives: adapters chain on it.
      return Promise.reject(error)
    }
  }

  const reconcile = async () => {
    const count = await reconcilePayments({
      ledger,
      facilitator,
      olderThanMs: 5_000,
      inFlight: (id) => rt.inFlight.has(id),
    })
    // Crash recovery: reservations of requests that never finished go back to their callers.
    if (credits) await credits.service.expire()
    return count
  }
  const timer =
    interval > 0
      ? setInterval(() => void reconcile().catch((error) => rt.events.emit('error', error)), interval)
      : undefined
  timer?.unref()

  return {
    config,
    events: rt.events,
    match,
    handle,
    reconcile,
    credits: credits && operatorCredits(credits, rt.decimals),
    keys,
    // Internal: the Node adapters' fast paths (pipeline/creditFastPath.ts, keyFastPath.ts).
    [creditFastPathKey]: createCreditFastPath(rt),
    [keyFastPathKey]: createKeyFastPath(rt),
    async close() {
      leaveApp()
      if (timer) clearInterval(timer)
      await webhooks?.close()
      detachAnalytics()
      await analytics.release()
      await credits?.service.close()
      await ledger.close()
      await config.keys?.close()
      await config.stores.release()
    },
  } as Paywall
}

const skip: Decision = { type: 'skip' }

/** `X402_RECONCILE_INTERVAL_MS`, when the code does not set `reconcileIntervalMs`. */
function reconcileFromEnv(): number | undefined {
  const raw = process.env.X402_RECONCILE_INTERVAL_MS
  if (raw === undefined || raw === '') return undefined
  const ms = Number(raw)
  if (!Number.isInteger(ms) || ms < 0) {
    throw new X402Error('invalid_config', {
      message: `X402_RECONCILE_INTERVAL_MS is "${raw}": give whole milliseconds (30000), or 0 to turn the reconciler off`,
      details: { option: 'X402_RECONCILE_INTERVAL_MS' },
    })
  }
  return ms
}

/** A decision to serve, with who called (`req.x402`). */
function withCaller(decision: Extract<Decision, { type: 'proceed' }>, ctx: PaidContext, requestId?: string): Decision {
  const caller = callerView(ctx)
  if (caller && requestId) caller.requestId = requestId
  return caller ? { ...decision, caller } : decision
}
