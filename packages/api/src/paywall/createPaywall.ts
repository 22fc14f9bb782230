import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import {
  decodeHeader,
  ExactEvmPayloadSchema,
  headers,
  type Invalid,
  PaymentPayloadSchema,
  PaymentPayloadV1Schema,
  type PaymentRequirements,
  type SettleResponse,
} from '@402x/core'
import { discoveryRoute, isDiscoveryPath, serveDiscovery } from '../discovery/serveDiscovery.js'
import { createMemoryLocks, type Locks } from './locks.js'
import { matchPayment } from './matchPayment.js'
import { paymentEvent } from './paymentEvent.js'
import { createQuoter } from './quote.js'
import { reconcilePayments } from './reconcilePayments.js'
import { type ResolvedPaywall, type ResolvedRoute, resolvePaywall } from './resolvePaywall.js'
import { errorResponse, faultResponse, paymentRequiredResponse, stampReceipt } from './responses.js'
import { provenPayer, retryKnown, signInChallenge, signInRequired } from './retryKnown.js'
import { matchRoute, normalizePath } from './routes.js'
import { settleAndServe } from './settleAndServe.js'
import type { Decision, PaymentEvent, PaywallEvents, PaywallOptions } from './types.js'
import { webRequestInfo } from './webRequestInfo.js'

export type HandleContext = {
  /** The request as the framework shows it (Express `req` …); else built from the `Request`. */
  req?: unknown
  ip?: string | undefined
  /** Route parameters the framework knows, for the request view built for pricing code. */
  params?: Record<string, string>
}

export type Paywall = {
  /** The resolved settings. */
  config: ResolvedPaywall
  /** Lifecycle events: `verified`, `payment`, `released`, `failed`, `rejected`. */
  events: EventEmitter<PaywallEvents>
  /**
   * The priced route for a method and raw path, or `undefined` when it is free (cheap: no
   * allocation beyond the path normalisation). `null` when the path cannot be decoded.
   */
  match(method: string, rawPath: string): ResolvedRoute | undefined | null
  /**
   * Decides about one request (DESIGN.md, "The seam"). `context.req` is the framework's own
   * request, shown to pricing code; `context.ip` the caller's address, for free tiers.
   */
  handle(request: Request, route?: ResolvedRoute, context?: HandleContext): Promise<Decision>
  /** Moves unfinished payments (verified, settling, pending) to their final state from the chain. */
  reconcile(): Promise<number>
  /** Stops the reconciler and closes the ledger. */
  close(): Promise<void>
}

/**
 * The framework-neutral core behind every adapter: a function of a Web `Request` that
 * returns a decision.
 *
 * @example
 * const paywall = createPaywall({ price: 0.01 })
 * const decision = await paywall.handle(request)
 */
export function createPaywall(options: PaywallOptions): Paywall {
  const config = resolvePaywall(options)
  const { ledger, facilitator } = config
  const locks: Locks = options.locks ?? createMemoryLocks()
  const events = new EventEmitter<PaywallEvents>()
  if (options.onPayment) events.on('payment', options.onPayment)
  // A listener error must never break a payment already settled.
  events.on('error', () => {})

  const quote = createQuoter(config, ledger)
  const warned = new WeakSet<ResolvedRoute>()

  const match: Paywall['match'] = (method, rawPath) => {
    if (config.guardsAll && !config.discovery) return config.routes[0]
    const path = normalizePath(rawPath)
    if (path === undefined) return null
    if ((method === 'GET' || method === 'HEAD') && isDiscoveryPath(config, path)) {
      return discoveryRoute
    }
    if (config.guardsAll) return config.routes[0]
    return config.routes.find((r) => r.pattern && matchRoute(r.pattern, method.toUpperCase(), path))
  }

  const handle: Paywall['handle'] = async (request, knownRoute, context = {}) => {
    const url = new URL(request.url)
    const route = knownRoute ?? match(request.method, url.pathname)
    if (route === null)
      return respond(errorResponse(400, 'invalid_request', 'the request path is not valid percent-encoding'))
    if (route === discoveryRoute) {
      const document = serveDiscovery(config, request)
      return document ? respond(document) : { type: 'skip' }
    }
    if (!route) return { type: 'skip' }
    if (request.method === 'OPTIONS') {
      // Never charged, and never served: the handler of a priced route does not run for it.
      // A CORS middleware placed before 402x answers preflights with its own headers.
      const method = route.pattern?.method
      const allow = method && method !== '*' ? `${method}${method === 'GET' ? ', HEAD' : ''}, OPTIONS` : undefined
      return respond(new Response(null, { status: 204, headers: allow ? { allow } : {} }))
    }
    const resourceUrl = `${url.origin}${url.pathname}`
    // Pricing code sees the framework's request; Web adapters get the body parsed from a clone.
    let req = context.req
    if (req === undefined && route.needsRequest) {
      try {
        req = await webRequestInfo(request, route, {
          ip: context.ip,
          ...(context.params ? { params: context.params } : {}),
        })
      } catch (error) {
        return respond(faultResponse(error))
      }
    }
    const v2Header = request.headers.get(headers.paymentSignature)
    const v1Header = v2Header ? null : request.headers.get(headers.v1Payment)
    const decoded = v2Header
      ? decodeHeader(v2Header, PaymentPayloadSchema)
      : v1Header
        ? decodeHeader(v1Header, PaymentPayloadV1Schema)
        : undefined
    const signer = decoded?.ok
      ? (decoded.value.payload as { authorization?: { from?: unknown } }).authorization?.from
      : undefined
    const claimedPayer = typeof signer === 'string' ? signer : undefined
    const quoted = await quote({ route, request, req, ip: context.ip, resourceUrl, payer: claimedPayer })
    if (quoted.type !== 'quote') return quoted
    const { price, accepts, extensions } = quoted

    /** A 402 for this route: with a refusal reason, and the failed settlement if there was one. */
    const paymentRequired = (
      error?: { reason: string; message: string },
      settle?: SettleResponse,
      status?: number,
      challenge?: Record<string, unknown>,
    ) =>
      paymentRequiredResponse({
        paywall: config,
        route,
        accepts,
        price,
        url: resourceUrl,
        method: request.method,
        ...(error ? { error } : {}),
        ...(settle ? { settle } : {}),
        ...(status ? { status } : {}),
        ...(extensions || challenge ? { extensions: { ...extensions?.(), ...challenge } } : {}),
      })
    const required = (error?: { reason: string; message: string }, status?: number): Decision => ({
      type: 'respond',
      response: paymentRequired(error, undefined, status),
      ...(status === undefined || status === 402 ? { paymentRequired: { price, accepts, error } } : {}),
    })
    const refuse = (error: Invalid, status = 402) => {
      events.emit('rejected', {
        ...(error.payer ? { payer: error.payer } : {}),
        reason: error.reason,
        message: error.message,
        resource: resourceUrl,
      })
      return required(error, status)
    }

    if (!decoded) return required(quoted.identityError)
    if (request.method === 'HEAD') {
      return refuse({
        isValid: false,
        reason: 'invalid_payload',
        message: 'pay with GET, not HEAD: HEAD is never charged',
      })
    }
    if (!decoded.ok) return refuse(decoded.error, 400)
    const matched = matchPayment(decoded.value, accepts, {
      computed: Boolean(route.priceFn),
      price,
      payer: claimedPayer,
    })
    if (!matched.ok) {
      // The price function gave another price for the paid attempt than the payer was
      // quoted: expected for volume tiers, a bug in a function of the request alone.
      if (matched.error.reason === 'price_changed' && !route.usesPayer && !warned.has(route)) {
        warned.add(route)
        console.warn(
          `402x: the price function of ${route.pattern?.source ?? 'this route'} gave a different price for the paid attempt ($${price}) than the payer was quoted. A price must depend only on the request (and the payer); callers are asked to sign again.`,
        )
      }
      return refuse(matched.error)
    }
    const { payload, requirements } = matched
    const exact = ExactEvmPayloadSchema.safeParse(payload.payload)
    if (!exact.success) {
      const issue = exact.error.issues[0]
      return refuse(
        { isValid: false, reason: 'invalid_payload', message: `payload.${issue?.path.join('.')}: ${issue?.message}` },
        400,
      )
    }
    const auth = exact.data.authorization
    const lockKey = `${requirements.network}:${requirements.asset}:${auth.from}:${auth.nonce}`.toLowerCase()
    const ttl = (Number(auth.validBefore) - Math.floor(Date.now() / 1000) + 60) * 1000
    if (!(await locks.acquire(lockKey, Math.max(ttl, 60_000)))) {
      return refuse({
        isValid: false,
        reason: 'payment_in_flight',
        message: 'this payment is already being processed for another request; each signed payment is served once',
        payer: auth.from,
      })
    }
    let locked = true
    const unlock = async () => {
      if (locked) {
        locked = false
        await locks.release(lockKey)
      }
    }
    try {
      const known = await ledger.findByNonce(requirements.network, requirements.asset, auth.from, auth.nonce)
      const v1 = decoded.value.x402Version === 1
      if (known) {
        const retry = await retryKnown({
          known,
          ledger,
          facilitator,
          signature: exact.data.signature,
          payer: auth.from,
          proven: provenPayer(request, resourceUrl, requirements.network),
          requirements,
          method: request.method,
          resourceUrl,
          v1,
          unlock,
          settled: (settle) =>
            emitPayment(known.id, 'settled', settle, requirements, auth.from, request.method, resourceUrl),
          markUndelivered: (id) => markUndelivered(id, auth.from, resourceUrl),
        })
        if (retry.type === 'decision') return retry.decision
        if (retry.type === 'sign_in') {
          await unlock()
          events.emit('rejected', {
            payer: auth.from,
            reason: 'sign_in_required',
            message: 'a retry of a paid, undelivered payment without a sign-in',
            resource: resourceUrl,
          })
          return respond(
            paymentRequired(signInRequired, undefined, undefined, signInChallenge(resourceUrl, requirements)),
          )
        }
        if (retry.type === 'used') {
          await unlock()
          return refuse({
            isValid: false,
            reason: 'invalid_exact_evm_nonce_already_used',
            message: `this signed payment was already used (${known.state}); sign a new one`,
            payer: auth.from,
          })
        }
      }
      const verified = await facilitator.verify(payload, requirements)
      if (!verified.isValid) {
        await unlock()
        return refuse({
          isValid: false,
          reason: (verified.invalidReason ?? 'invalid_payload') as Invalid['reason'],
          message: verified.invalidMessage ?? 'the facilitator refused this payment',
          payer: auth.from,
        })
      }
      const id = randomUUID()
      const inserted = await ledger.insert({
        id,
        state: 'verified',
        network: requirements.network,
        asset: requirements.asset,
        payTo: requirements.payTo,
        payer: auth.from,
        nonce: auth.nonce,
        amount: requirements.amount,
        validBefore: Number(auth.validBefore),
        method: request.method,
        resource: resourceUrl,
        payload: JSON.stringify(payload),
        requirements: JSON.stringify(requirements),
      })
      if (!inserted) {
        await unlock()
        return refuse({
          isValid: false,
          reason: 'payment_in_flight',
          message: 'this signed payment is already recorded for another request; sign a new one',
          payer: auth.from,
        })
      }
      events.emit('verified', { id, payer: auth.from, amount: BigInt(requirements.amount), resource: resourceUrl })
      let paid = false
      return {
        type: 'proceed',
        requirements,
        undelivered: async () => {
          if (paid) await markUndelivered(id, auth.from, resourceUrl)()
        },
        abort: async (reason) => {
          try {
            await ledger.transition(id, 'released', { reason: 'not_served', message: reason })
            events.emit('released', { id, payer: auth.from, reason })
          } finally {
            await unlock()
          }
        },
        finish: async (response) => {
          try {
            return await settleAndServe({
              ledger,
              facilitator,
              events,
              id,
              payer: auth.from,
              payload,
              requirements,
              response,
              paymentRequired,
              served: (state, settle) => {
                paid = true
                emitPayment(id, state, settle, requirements, auth.from, request.method, resourceUrl)
                return stampReceipt(response, settle, v1)
              },
            })
          } finally {
            await unlock()
          }
        },
      }
    } catch (error) {
      await unlock()
      return respond(faultResponse(error))
    }
  }

  /** Flags a paid response as not delivered, so that a retry of the payment is served. */
  const markUndelivered = (id: string, payer: string, resource: string) => async () => {
    try {
      if (await ledger.setUndelivered(id, true)) events.emit('undelivered', { id, payer, resource })
    } catch (error) {
      events.emit('error', error)
    }
  }

  const emitPayment = (
    id: string,
    state: PaymentEvent['state'],
    settle: SettleResponse,
    requirements: PaymentRequirements,
    payer: string,
    method: string,
    resource: string,
  ) => {
    try {
      const event = paymentEvent({
        id,
        state,
        settle,
        requirements,
        payer,
        method,
        resource,
        decimals: config.asset.decimals,
      })
      events.emit('payment', event)
      events.emit('settled', event)
    } catch (error) {
      events.emit('error', error)
    }
  }

  const interval = options.reconcileIntervalMs ?? 30_000
  const reconcile = () => reconcilePayments({ ledger, facilitator, olderThanMs: 5_000 })
  const timer = interval > 0 ? setInterval(() => void reconcile().catch(() => {}), interval) : undefined
  timer?.unref()

  return {
    config,
    events,
    match,
    handle,
    reconcile,
    async close() {
      if (timer) clearInterval(timer)
      await ledger.close()
    },
  }
}

const respond = (response: Response): Decision => ({ type: 'respond', response })
