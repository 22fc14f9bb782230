import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import {
  decodeHeader,
  ExactEvmPayloadSchema,
  encodeHeader,
  exactEvmPayloadOf,
  formatMoney,
  headers,
  type Invalid,
  type PaymentPayload,
  PaymentPayloadSchema,
  PaymentPayloadV1Schema,
  type PaymentRequirements,
  type SettleResponse,
} from '@402x/core'
import type { Hold } from '../credits/creditService.js'
import { discoveryRoutes, isDiscoveryRoute, serveDiscovery } from '../discovery/serveDiscovery.js'
import { paymentId } from '../ledger/paymentId.js'
import type { PaymentRecord } from '../ledger/types.js'
import {
  bearerToken,
  creditExposeHeaders,
  creditsExtension,
  creditsOffer,
  creditsPath,
  invalidToken,
  jsonResponse,
  receiptHeaders,
  tokenHeader,
  topUpAmount,
  unknownTopUpToken,
} from './credits.js'
import { isValidHost } from './host.js'
import { knownBody, responseOf } from './knownBody.js'
import type { Locks } from './locks.js'
import { matchPayment } from './matchPayment.js'
import { matchRequest } from './matchRequest.js'
import { chargeFor, meteredResponse } from './metering.js'
import { operatorCredits, type PaywallCredits } from './operatorCredits.js'
import { refuseOverMax } from './overMax.js'
import { paymentEvent } from './paymentEvent.js'
import { requirementsAt } from './pricing.js'
import { createQuoter } from './quote.js'
import { reconcilePayments } from './reconcilePayments.js'
import { type ResolvedOption, type ResolvedPaywall, type ResolvedRoute, resolvePaywall } from './resolvePaywall.js'
import {
  errorResponse,
  faultResponse,
  paymentRequiredResponse,
  receiptPairs,
  refusalBody,
  stampReceipt,
  withHeaders,
} from './responses.js'
import { resumeUnserved } from './resumeUnserved.js'
import { isSamePayment, type Proof, provenPayer, retryKnown, signInChallenge, signInRequired } from './retryKnown.js'
import { settleAndServe } from './settleAndServe.js'
import { createSpentNonces } from './spentNonces.js'
import { createStreamMeter, receiptJson } from './streamMeter.js'
import type {
  CreditReceipt,
  Decision,
  PaymentEvent,
  PaywallEvents,
  PaywallOptions,
  RequestHead,
  StatusOutcome,
} from './types.js'
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
  /**
   * The Node adapters' fast path for a request paid from credit at a price known before it
   * runs: no Web `Request` or `Response` is built. `undefined` when credit is off.
   */
  creditFastPath: CreditFastPath | undefined
  /** Stops the reconciler and closes the ledger. */
  close(): Promise<void>
}

/** A bearer request's credit, held for the fast path. */
export type FastDraw = {
  /**
   * After the handler: charges (status < 400) or releases (≥ 400) and gives the
   * `X-402x-Receipt` value, or an error answer when the charge could not be written.
   */
  finish(status: number, resource: () => string): Promise<string | Response>
  /**
   * {@link FastDraw.finish} without a promise or a closure (the Node hot path):
   * `done(context, result)` once the charge is written. `resource` (the URL, or a function
   * giving it) is read only for `receipt` listeners.
   */
  settle<T>(
    status: number,
    context: T,
    done: (context: T, result: string | Response) => void,
    resource: string | (() => string),
  ): void
  /** The handler never answered, or the caller left: release, charge nothing. */
  drop(): void
  /** Charged, but the response never reached the caller: the charge goes back to credit. */
  undelivered(): Promise<void>
}

export type CreditFastPath = {
  /** Whether a route's price is known up front and nothing else needs the request. */
  eligible(route: ResolvedRoute): boolean
  /**
   * Holds the route's price from the token's credit (at once when this process knows the
   * token and balance); `undefined` sends the request down the full path (401, 402 …).
   */
  draw(route: ResolvedRoute, token: string): FastDraw | undefined | Promise<FastDraw | undefined>
}

/** What an operator does with credit (the caller's side is HTTP: `/__402x/credits`). */
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
  const locks: Locks = config.stores.locks
  const events = new EventEmitter<PaywallEvents>()
  if (options.onPayment) events.on('payment', options.onPayment)
  // A listener error must never break a payment already settled.
  events.on('error', () => {})

  const quote = createQuoter(config, ledger)
  /** The ledger rows of payments this process is serving or settling: its reconciler leaves them alone. */
  const inFlight = new Set<string>()
  const warned = new WeakSet<ResolvedRoute>()

  const { credits } = config
  /** `/__402x/credits`: `POST ?amount=` buys credit (paid with x402), `GET` shows it. */
  const creditsRoute: ResolvedRoute = {
    usesPayer: false,
    needsRequest: false,
    description: 'Prepaid credit for this API: POST ?amount=<dollars>, then send Authorization: Bearer <token>',
    mimeType: 'application/json',
    maxTimeoutSeconds: 300,
  }

  const specials = [...discoveryRoutes(config), ...(credits ? [{ path: creditsPath, route: creditsRoute }] : [])]
  const match: Paywall['match'] = (method, rawPath) => matchRequest(config, specials, method, rawPath)

  const handle: Paywall['handle'] = async (request, knownRoute, context = {}) => {
    const url = (request as RequestHead).parsedUrl ?? new URL(request.url)
    const route = knownRoute ?? match(request.method, url.pathname)
    if (route?.refusal) return respond(errorResponse(400, route.refusal.reason, route.refusal.message))
    // The URL callers use: configured, else the adapter's validated Host; the path is the matched one.
    const origin = config.publicUrl ?? url.origin
    if (route && isDiscoveryRoute(route)) return respond(serveDiscovery(config, route, origin))
    if (!route) return { type: 'skip' }
    // The Web adapters' runtime built the URL; a Host header it carries must still be one.
    if (!isValidHost(request.headers.get('host')))
      return respond(errorResponse(400, 'invalid_request', 'the Host header is not a valid host[:port]'))
    if (request.method === 'OPTIONS') {
      // Never charged, and never served: the handler of a priced route does not run for it.
      // A CORS middleware placed before 402x answers preflights with its own headers.
      const method = route.pattern?.method
      const allow = method && method !== '*' ? `${method}${method === 'GET' ? ', HEAD' : ''}, OPTIONS` : undefined
      return respond(new Response(null, { status: 204, headers: allow ? { allow } : {} }))
    }
    const resourceUrl = `${origin}${url.pathname}`
    // Pricing code sees the framework's request; Web adapters get the body parsed from a clone.
    let req = context.req
    if (req === undefined && route.needsRequest) {
      try {
        if (!(request instanceof Request)) throw new TypeError('a request head without `context.req` cannot be priced')
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
    const token = credits ? bearerToken(request) : undefined
    let quoted: Awaited<ReturnType<typeof quote>>
    if (route === creditsRoute) {
      if (request.method === 'GET' || request.method === 'HEAD') return respond(await showCredits(token))
      if (request.method === 'DELETE') return respond(await revokeCredits(token))
      if (request.method !== 'POST') {
        return respond(errorResponse(405, 'invalid_request', `buy credit with POST ${creditsPath}?amount=<dollars>`))
      }
      const amount = topUpAmount(credits as NonNullable<typeof credits>, url)
      if (typeof amount !== 'bigint') return respond(errorResponse(400, 'invalid_request', amount.error))
      // A top-up names the account it tops up: a token not known here (revoked, or never
      // issued) is refused before anything is paid, rather than opening a new account.
      if (token && !(await knownToken(token))) return respond(unknownTopUpToken())
      const price = formatMoney(amount, config.asset.decimals)
      const sameUnits = config.accepts.filter((a) => a.asset.decimals === config.asset.decimals)
      quoted = { type: 'quote', price, accepts: requirementsAt(sameUnits, route, price) }
    } else {
      quoted = await quote({ route, request, req, ip: context.ip, resourceUrl, payer: claimedPayer })
    }
    if (quoted.type !== 'quote') return quoted
    const { price, extensions } = quoted
    // What is paid for credit becomes credit in the main asset's units: only options with
    // the same decimals are offered for it.
    const accepts = route.meter ? quoted.accepts.filter((a) => decimalsOf(a) === config.asset.decimals) : quoted.accepts
    let shownBalance: bigint | undefined

    /** A 402 for this route: with a refusal reason, and the failed settlement if there was one. */
    const paymentRequired = (
      error?: { reason: string; message: string },
      settle?: SettleResponse,
      status?: number,
      challenge?: Record<string, unknown>,
    ) => {
      const offer = credits && route !== creditsRoute ? creditsOffer(credits, origin, shownBalance) : undefined
      const more = offer ? { ...challenge, ...creditsExtension(offer) } : challenge
      return paymentRequiredResponse({
        paywall: config,
        route,
        accepts,
        price,
        url: resourceUrl,
        method: request.method,
        ...(error ? { error } : {}),
        ...(settle ? { settle } : {}),
        ...(status ? { status } : {}),
        ...(extensions || more ? { extensions: { ...extensions?.(), ...more } } : {}),
        ...(offer ? { credits: offer } : {}),
      })
    }
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

    if (!decoded) {
      // HEAD is never charged, from credit either.
      if (token && credits && route !== creditsRoute && request.method !== 'HEAD') {
        const account = await credits.service.accountFor(token)
        if (!account) return respond(invalidToken())
        const main = accepts.find((a) => a.asset === config.asset.address && a.network === config.network)
        if (!main) return required()
        const amount = BigInt(main.amount)
        const insufficient = (available: bigint) => {
          shownBalance = available
          return refuse({
            isValid: false,
            reason: 'insufficient_credit' as Invalid['reason'],
            message: `this request costs $${price} and the credit left is $${formatMoney(available, config.asset.decimals)}: top up with POST ${creditsPath}?amount=<dollars> (with this token), or pay this request with PAYMENT-SIGNATURE`,
          })
        }
        try {
          if (route.meter) {
            const held = await credits.service.reserve(account, amount, credits.reservationTtlMs)
            if (!held.ok) return insufficient(held.available)
            return meteredProceed({ route, account, reservationId: held.reservationId, reserved: amount, resourceUrl })
          }
          const hold = await credits.service.hold(account, amount)
          if ('ok' in hold) return insufficient(hold.available)
          return creditProceed(hold, resourceUrl)
        } catch (error) {
          return respond(faultResponse(error))
        }
      }
      return required(quoted.identityError)
    }
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
    const fast = exactEvmPayloadOf(payload.payload)
    const exact = fast ? { success: true as const, data: fast } : ExactEvmPayloadSchema.safeParse(payload.payload)
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
    /** This payment's ledger row, once written: in flight until unlocked. */
    let row: string | undefined
    const unlock = async () => {
      if (locked) {
        locked = false
        if (row) inFlight.delete(row)
        await locks.release(lockKey)
      }
    }
    try {
      const v1 = decoded.value.x402Version === 1
      /**
       * This authorization is already recorded, live: a retry of a payment made before (its
       * paid answer not delivered, a settlement that faulted, a payment for credit) or a
       * replay. The decision for it, or `retry`: never used on chain and still valid, so it
       * is verified and recorded anew.
       */
      const onKnown = async (known: PaymentRecord): Promise<Decision | 'retry'> => {
        const proof = provenPayer(request, resourceUrl, requirements.network)
        /** The payer's proof, spent: a proof grants once. */
        const provenBy = (payer: string) =>
          proof && proof.address === payer.toLowerCase() && spendProof(proof) ? proof.address : undefined
        /** The answers to a known payment presented again that serves nothing. */
        const refuseKnown = async (outcome: 'used' | 'sign_in', why: string): Promise<Decision> => {
          await unlock()
          if (outcome === 'used') {
            return refuse({
              isValid: false,
              reason: 'invalid_exact_evm_nonce_already_used',
              message: `this signed payment was already used (${known.state}); sign a new one`,
              payer: auth.from,
            })
          }
          events.emit('rejected', { payer: auth.from, reason: 'sign_in_required', message: why, resource: resourceUrl })
          return respond(
            paymentRequired(signInRequired, undefined, undefined, signInChallenge(resourceUrl, requirements)),
          )
        }
        if (route === creditsRoute || route.meter) {
          // A payment for credit presented again: its money is (or becomes) credit, never a
          // second charge and never lost. The payer's sign-in gets the account's token back.
          const recovered = await recoverCreditPayment({
            known,
            signature: exact.data.signature,
            payer: auth.from,
            proven: () => provenBy(known.payer),
            requirements,
            method: request.method,
            resourceUrl,
            v1,
            token,
            route,
          })
          if (recovered === 'used' || recovered === 'sign_in') {
            return refuseKnown(recovered, 'a retry of a payment for credit without a sign-in')
          }
          if (recovered === 'retry') return 'retry'
          await unlock()
          return recovered
        }
        const retry = await retryKnown({
          known,
          ledger,
          facilitator,
          signature: exact.data.signature,
          payer: auth.from,
          proven: provenBy(known.payer),
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
        if (retry.type === 'sign_in' || retry.type === 'used') {
          return refuseKnown(retry.type, 'a retry of a paid, undelivered payment without a sign-in')
        }
        return 'retry'
      }
      // A new payment is verified, then recorded; the ledger is asked whether this
      // authorization is already known only when one of the two fails (a known payment is
      // used on chain, or in flight, or its live row refuses the insert). That spares every
      // new payment a read of the ledger. A known payment's `retry` goes round once more.
      let retried = false
      /**
       * The live payment recorded for this authorization (looked up once), and what to do
       * with it: a decision, `again` (its `retry`: round once more), or `undefined` (none).
       */
      const known = async (): Promise<Decision | 'again' | undefined> => {
        if (retried) return undefined
        const record = await ledger.findByNonce(requirements.network, requirements.asset, auth.from, auth.nonce)
        if (!record) return undefined
        const outcome = await onKnown(record)
        if (outcome !== 'retry') return outcome
        retried = true
        return 'again'
      }
      let id!: string
      let verifiedAt!: number
      for (;;) {
        let verified: Awaited<ReturnType<typeof facilitator.verify>> | undefined
        let fault: { error: unknown } | undefined
        try {
          verified = await facilitator.verify(payload, requirements)
        } catch (error) {
          fault = { error }
        }
        if (fault || !verified?.isValid) {
          const outcome = await known()
          if (outcome === 'again') continue
          if (outcome) return outcome
          if (fault) throw fault.error
          await unlock()
          return refuse({
            isValid: false,
            reason: (verified?.invalidReason ?? 'invalid_payload') as Invalid['reason'],
            message: verified?.invalidMessage ?? 'the facilitator refused this payment',
            payer: auth.from,
          })
        }
        id = paymentId()
        verifiedAt = Date.now()
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
        if (inserted) break
        const outcome = await known()
        if (outcome === 'again') continue
        if (outcome) return outcome
        await unlock()
        return refuse({
          isValid: false,
          reason: 'payment_in_flight',
          message: 'this signed payment is already recorded for another request; sign a new one',
          payer: auth.from,
        })
      }
      row = id
      inFlight.add(id)
      if (events.listenerCount('verified') > 0) {
        events.emit('verified', { id, payer: auth.from, amount: BigInt(requirements.amount), resource: resourceUrl })
      }
      if (route === creditsRoute || route.meter) {
        try {
          return await settleFirst({
            id,
            payer: auth.from,
            payload,
            requirements,
            v1,
            token,
            route,
            resourceUrl,
            method: request.method,
            paymentRequired,
            verifiedAt,
          })
        } finally {
          await unlock()
        }
      }
      let paid = false
      /** Settles (status < 400) or releases, and unlocks the payment. */
      const finishStatus = async (status: number): Promise<StatusOutcome> => {
        try {
          const outcome = await settleAndServe({
            ledger,
            facilitator,
            events,
            id,
            payer: auth.from,
            payload,
            requirements,
            status,
            verifiedAt,
            paymentRequired,
          })
          if (outcome === 'released') return undefined
          if (outcome instanceof Response) return outcome
          paid = true
          emitPayment(id, outcome.state, outcome.settle, requirements, auth.from, request.method, resourceUrl)
          return { headers: receiptPairs(outcome.settle, v1) }
        } finally {
          await unlock()
        }
      }
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
          const outcome = await finishStatus(response.status)
          if (outcome === undefined) return response
          return outcome instanceof Response ? outcome : withHeaders(response, outcome.headers)
        },
        finishStatus,
      }
    } catch (error) {
      await unlock()
      return respond(faultResponse(error))
    }
  }

  const decimals = config.asset.decimals
  /** Sign-in proofs already used to grant something, until they expire. */
  const spendNonce = createSpentNonces()
  const spendProof = (proof: Proof): boolean => spendNonce(`${proof.address}:${proof.nonce}`, proof.expiresAt)
  const decimalsOf = (requirements: PaymentRequirements) =>
    config.accepts.find((a) => a.network === requirements.network && a.asset.address === requirements.asset)?.asset
      .decimals
  const creditService = () => (credits as NonNullable<typeof credits>).service
  const knownToken = (token: string) =>
    creditService()
      .accountFor(token)
      .then((account) => account !== undefined)

  /** `GET /__402x/credits`: the token holder's balance and latest entries. */
  const showCredits = async (token: string | undefined): Promise<Response> => {
    if (!token) {
      return jsonResponse(
        401,
        refusalBody(
          'invalid_token',
          `send Authorization: Bearer <token>; buy credit with POST ${creditsPath}?amount=<dollars>`,
        ),
        { 'www-authenticate': 'Bearer' },
      )
    }
    try {
      const account = await creditService().accountFor(token)
      if (!account) return invalidToken()
      const balance = await creditService().balance(account)
      const entries = await creditService().entries(account, 50)
      return jsonResponse(200, {
        balance: {
          available: formatMoney(balance.available, decimals),
          reserved: formatMoney(balance.reserved, decimals),
        },
        atomic: { available: balance.available, reserved: balance.reserved, decimals },
        entries: entries.map((e) => ({
          kind: e.kind,
          account: e.account.startsWith('hold:') ? 'reserved' : 'available',
          amount: formatMoney(e.amount < 0n ? -e.amount : e.amount, decimals),
          direction: e.amount < 0n ? 'out' : 'in',
          ref: e.ref,
          ...(e.note ? { note: e.note } : {}),
          at: new Date(e.createdAt).toISOString(),
        })),
      })
    } catch (error) {
      return faultResponse(error)
    }
  }

  /** `DELETE /__402x/credits`: the token holder revokes the token it presents (a leak). */
  const revokeCredits = async (token: string | undefined): Promise<Response> => {
    if (!token) {
      return jsonResponse(
        401,
        refusalBody('invalid_token', 'send Authorization: Bearer <token> with the token to revoke'),
        { 'www-authenticate': 'Bearer' },
      )
    }
    try {
      const account = await creditService().accountFor(token)
      if (!account || !(await creditService().revoke(token))) return invalidToken()
      const { available } = await creditService().balance(account)
      return jsonResponse(200, {
        revoked: true,
        message:
          'this token opens nothing any more; the credit stays with the account and its other tokens (the payer gets a new one by retrying its payment with a sign-in)',
        balance: { available: formatMoney(available, decimals) },
      })
    } catch (error) {
      return faultResponse(error)
    }
  }

  /** The handler's response with the receipt (and the payment's settlement and a new token). */
  const stamp = (
    response: Response,
    receipt: CreditReceipt | string,
    token?: string,
    paid?: { settle: SettleResponse; v1: boolean },
  ): Response => {
    const json = typeof receipt === 'string' ? receipt : receiptJson(receipt)
    const settled = paid ? receiptPairs(paid.settle, paid.v1) : []
    return withHeaders(response, [...settled, ...receiptHeaders(json, token)])
  }

  const receiptEvent = (receipt: CreditReceipt, resource: string, account: string) => {
    try {
      events.emit('receipt', { ...receipt, resource, account })
    } catch (error) {
      events.emit('error', error)
    }
  }

  /** A request with a price known up front, paid from credit held in memory. */
  const creditProceed = (hold: Hold, resource: string): Decision => {
    const draw = drawFromHold(hold)
    return {
      type: 'proceed',
      finish: async (response) => {
        const receipt = await draw.finish(response.status, () => resource)
        return typeof receipt === 'string' ? stamp(response, receipt) : receipt
      },
      abort: async () => draw.drop(),
      undelivered: () => draw.undelivered(),
    }
  }

  type Metered = {
    route: ResolvedRoute
    account: string
    reservationId: string
    reserved: bigint
    resourceUrl: string
    /** A token for a credit account opened by this request. */
    token?: string
    /** The payment of the maximum, when the request was not paid from credit. */
    paid?: {
      id: string
      payer: string
      settle: SettleResponse
      v1: boolean
      /** Paid in the main asset on the main network: what an on-chain refund sends back. */
      refundable: boolean
      /** A signed-in retry of the payment, served from its credit. */
      recovered?: boolean
    }
  }

  /** Reserve → serve → capture: a metered request, buffered or streamed. */
  const meteredProceed = (m: Metered): Decision => {
    const meter = m.route.meter as NonNullable<ResolvedRoute['meter']>
    const service = creditService()
    const startedAt = performance.now()
    let closing: Promise<CreditReceipt> | undefined
    // A request still running keeps its reservation: expiry is for processes that died.
    const ttl = (credits as NonNullable<typeof credits>).reservationTtlMs
    const keepAlive = setInterval(
      () => void service.extend(m.reservationId, ttl).catch((error) => events.emit('error', error)),
      Math.max(10, ttl / 3),
    )
    keepAlive.unref()
    /** Captures what was used and releases the rest, once; never throws (a fault charges nothing). */
    const close = (captured: bigint, reason?: string) => {
      closing ??= (async (): Promise<CreditReceipt> => {
        clearInterval(keepAlive)
        let balance: bigint
        try {
          if (captured === 0n) balance = await service.release(m.account, m.reservationId, reason ?? 'nothing used')
          else balance = await service.capture(m.account, m.reservationId, captured)
        } catch (error) {
          // Not written (the ledger failed, or expiry released the reservation): nothing
          // is charged; what the ledger holds stands.
          events.emit('error', error)
          captured = 0n
          reason = 'capture_failed'
          balance = await service.available(m.account).catch(() => 0n)
        }
        const returned = m.reserved - captured
        let refund: CreditReceipt['refund'] = 'credit'
        let transaction: string | undefined
        // One on-chain refund per payment, on the first serving only: a signed-in retry of
        // the payment is served from credit, and its unused part stays credit.
        if (m.paid?.refundable && !m.paid.recovered && returned > 0n && credits?.refund === 'onchain') {
          const ref = `${m.paid.id}:refund`
          let paidOut = false
          try {
            const posted = await service.payout(m.account, returned, ref)
            balance = posted.balance
            // A payout already posted for this payment: it was sent (or tried) then.
            paidOut = !posted.replayed
          } catch (error) {
            events.emit('error', error)
          }
          if (paidOut) {
            try {
              transaction = (await credits.refunder().send({ to: m.paid.payer, amount: returned, ref })).transaction
              refund = 'onchain'
            } catch (error) {
              events.emit('error', error)
              const details = (error as { details?: { moved?: unknown; transaction?: string } }).details
              if (details?.moved === false) {
                // Nothing left the wallet: the unused part stays the caller's credit.
                balance = await service
                  .topUp(m.account, returned, `${ref}:failed`)
                  .then((posted) => posted.balance)
                  .catch(() => balance)
              } else {
                // Sent, and it may still land: never credited as well (that would refund twice).
                refund = 'onchain'
                if (details?.transaction) transaction = details.transaction
                reason ??= 'refund_unconfirmed'
              }
            }
          }
        }
        if (m.paid && !m.paid.recovered && returned > 0n) {
          events.emit('refunded', {
            id: m.paid.id,
            payer: m.paid.payer,
            amount: returned,
            reason: reason ?? 'unused part of the maximum',
            ...(transaction ? { transaction } : {}),
          })
        }
        const receipt: CreditReceipt = {
          reserved: m.reserved,
          captured,
          returned,
          balance,
          decimals,
          refund,
          ...(transaction ? { transaction } : {}),
          ...(reason ? { reason } : {}),
        }
        receiptEvent(receipt, m.resourceUrl, m.account)
        return receipt
      })()
      return closing
    }
    const paidStamp = m.paid ? { settle: m.paid.settle, v1: m.paid.v1 } : undefined
    return {
      type: 'proceed',
      finish: async (response) => {
        if (response.status >= 400) return stamp(response, await close(0n, 'handler_error'), m.token, paidStamp)
        let charge: bigint
        let body: Uint8Array | null = null
        try {
          const known = knownBody(response)
          body =
            typeof known === 'string'
              ? new TextEncoder().encode(known)
              : known !== undefined
                ? known
                : new Uint8Array(await response.arrayBuffer())
          if (body && /text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
            // A whole SSE body (an adapter that buffers streams): billed event by event, as a stream is.
            const stream = createStreamMeter({
              meter,
              reserved: m.reserved,
              decimals,
              startedAt,
              sse: true,
              settle: (amount, reason) => close(amount, reason),
              resource: m.resourceUrl,
            })
            const head = stream.write(body).send
            const { send: tail, receipt } = await stream.end()
            const whole = new Uint8Array((head?.length ?? 0) + (tail?.length ?? 0))
            if (head) whole.set(head)
            if (tail) whole.set(tail, head?.length ?? 0)
            const headers = new Headers(response.headers)
            headers.delete('content-length')
            return stamp(responseOf(whole, { status: response.status, headers }), receipt, m.token, paidStamp)
          }
          const units =
            meter.kind === 'seconds'
              ? (performance.now() - startedAt) / 1000
              : meter.count(meteredResponse(body, response.status, response.headers))
          charge = chargeFor(units, meter.unitPrice, decimals)
        } catch (error) {
          const receipt = await close(0n, 'meter_failed')
          return stamp(
            errorResponse(
              500,
              'meter_failed',
              `the route's meter failed (${(error as Error).message}); nothing was charged`,
            ),
            receipt,
            m.token,
            paidStamp,
          )
        }
        if (charge > m.reserved && meter.overMax === 'refuse') {
          const refused = refuseOverMax(meter, charge, decimals, m.resourceUrl)
          return stamp(refused, await close(0n, 'metered_over_max'), m.token, paidStamp)
        }
        let receipt: CreditReceipt
        try {
          receipt = await close(
            charge > m.reserved ? m.reserved : charge,
            charge > m.reserved ? 'metered_over_max' : undefined,
          )
        } catch (error) {
          return faultResponse(error)
        }
        return stamp(responseOf(body, response), receipt, m.token, paidStamp)
      },
      abort: async (reason) => {
        await close(0n, reason)
      },
      // Charged, but the response never left: the charge goes back to the caller's credit.
      undelivered: async () => {
        const receipt = await closing
        if (!receipt || receipt.captured === 0n) return
        await service
          .refund(m.account, receipt.captured, `${m.reservationId}:undelivered`, 'response not delivered')
          .catch((error) => events.emit('error', error))
      },
      stream: (sse) =>
        createStreamMeter({
          meter,
          reserved: m.reserved,
          decimals,
          startedAt,
          sse,
          settle: (amount, reason) => close(amount, reason),
          resource: m.resourceUrl,
        }),
      streamHeaders: () => {
        const out = new Headers({ 'x-402x-reserved': String(m.reserved) })
        if (m.token) out.set(tokenHeader, m.token)
        if (m.paid) {
          out.set(headers.paymentResponse, encodeHeader(m.paid.settle))
          if (m.paid.v1) out.set(headers.v1PaymentResponse, encodeHeader(m.paid.settle))
        }
        out.set('access-control-expose-headers', `${creditExposeHeaders}, X-402x-Reserved`)
        out.set('cache-control', 'private, no-store')
        return out
      },
    }
  }

  /**
   * A top-up, or a metered request paid by one payment of its maximum: settle first, credit
   * the payment to the caller's account (the presented token's, or a new one), then either
   * answer with the token or reserve the maximum and serve.
   */
  /**
   * The same payment for credit, presented again (a lost answer, a settlement fault, a
   * crash between settling and crediting): settled ones are credited (once) and answered,
   * with a new token for the account, to the payer's signed-in retry.
   */
  const recoverCreditPayment = async (input: {
    known: PaymentRecord
    signature: string
    payer: string
    /** The payer's sign-in on this request, spent when it is used; `undefined` without one. */
    proven: () => string | undefined
    requirements: PaymentRequirements
    method: string
    resourceUrl: string
    v1: boolean
    token: string | undefined
    route: ResolvedRoute
  }): Promise<Decision | 'retry' | 'used' | 'sign_in'> => {
    const { known } = input
    if (!isSamePayment(input)) return 'used'
    let transaction = known.transaction ?? ''
    if (known.state === 'verified' || known.state === 'settling') {
      return respond(
        errorResponse(
          503,
          'payment_in_flight',
          'this payment is being settled or reconciled; retry shortly with the same payment and a sign-in, do not pay again',
          5,
        ),
      )
    }
    if (known.state === 'pending') {
      const resumed = await resumeUnserved(ledger, facilitator, known.id)
      if (resumed.state === 'retry') return 'retry'
      if (resumed.state === 'failed') return 'used'
      if (resumed.state !== 'settled') {
        return respond(
          errorResponse(
            503,
            'payment_in_flight',
            'the settlement of this payment is not confirmed yet; retry shortly with the same payment, do not pay again',
            5,
          ),
        )
      }
      transaction = resumed.transaction
    } else if (known.state !== 'settled' && known.state !== 'reconciled') {
      return 'used'
    }
    // Paid. The authorization is public on chain: only the payer's sign-in gets its credit.
    if (input.proven() !== known.payer.toLowerCase()) return 'sign_in'
    return creditPayment({
      id: known.id,
      payer: input.payer,
      requirements: input.requirements,
      v1: input.v1,
      token: input.token,
      route: input.route,
      resourceUrl: input.resourceUrl,
      settle: {
        success: true,
        transaction,
        network: input.requirements.network,
        payer: input.payer,
        amount: known.amount,
      },
      recovered: true,
    })
  }

  type CreditPayment = {
    id: string
    payer: string
    requirements: PaymentRequirements
    v1: boolean
    token: string | undefined
    route: ResolvedRoute
    resourceUrl: string
    /** The settlement, for the answer's PAYMENT-RESPONSE. */
    settle: SettleResponse
    /** A retry of a payment made before: a new token is issued for its account. */
    recovered?: boolean
  }

  /**
   * A top-up, or a metered request paid by one payment of its maximum: settle first. A
   * settlement sent but not confirmed is not credited yet: the payer retries the same
   * payment (with a sign-in) and it is credited once confirmed.
   */
  const settleFirst = async (
    input: Omit<CreditPayment, 'settle' | 'recovered'> & {
      payload: PaymentPayload
      method: string
      paymentRequired: (error: { reason: string; message: string }, settle?: SettleResponse) => Response
      /** When the payment's row was written, ms epoch. */
      verifiedAt: number
    },
  ): Promise<Decision> => {
    const { id, payer, requirements } = input
    const paid = await settleAndServe({
      ledger,
      facilitator,
      events,
      id,
      payer,
      payload: input.payload,
      requirements,
      status: 200,
      verifiedAt: input.verifiedAt,
      paymentRequired: input.paymentRequired,
    })
    // A status of 200 is never released.
    if (paid === 'released') throw new Error('unreachable: a 200 was released')
    if (paid instanceof Response) return respond(paid)
    emitPayment(id, paid.state, paid.settle, requirements, payer, input.method, input.resourceUrl)
    if (paid.state === 'pending') {
      return respond(
        errorResponse(
          503,
          'payment_in_flight',
          `the payment was sent (${paid.settle.transaction}) and is not confirmed yet, so it is not credit yet: retry with the same PAYMENT-SIGNATURE and a SIGN-IN-WITH-X proof shortly (402x-client does both); it is credited once, when it lands`,
          5,
        ),
      )
    }
    return creditPayment({ ...input, settle: paid.settle })
  }

  /**
   * Puts a settled payment into a credit account (the one it went to before, the presented
   * token's, or a new one; idempotent by the payment id), then answers a top-up with the
   * token or serves the metered request from that credit.
   */
  const creditPayment = async (input: CreditPayment): Promise<Decision> => {
    const { id, payer, requirements, settle } = input
    const service = creditService()
    const amount = BigInt(requirements.amount)
    let account: string | undefined
    let token: string | undefined
    try {
      const presented = input.token ? await service.accountFor(input.token) : undefined
      account = await service.accountOfPayment(id)
      if (!account) account = presented
      if (!account) ({ account, token } = await service.open())
      else if (input.recovered && presented !== account) token = await service.issue(account)
      const { balance, replayed } = await service.topUp(account, amount, id)
      // Once per payment: a recovered retry of a payment credited before adds nothing.
      if (!replayed) events.emit('toppedUp', { id, payer, account, amount })
      if (input.route === creditsRoute) {
        const answer = jsonResponse(
          200,
          {
            ...(token ? { token } : {}),
            credited: formatMoney(amount, decimals),
            balance: { available: formatMoney(balance, decimals) },
            atomic: { credited: amount, available: balance, decimals },
            ...(input.recovered ? { recovered: true } : {}),
            use: 'send Authorization: Bearer <token> with each request',
          },
          token ? { [tokenHeader]: token } : {},
        )
        return respond(stampReceipt(answer, settle, input.v1))
      }
      const ttl = (credits as NonNullable<typeof credits>).reservationTtlMs
      const held = await service.reserve(account, amount, ttl, input.recovered ? undefined : id)
      if (!held.ok) {
        // Spent meanwhile (requests with the same token): the credit is there, the maximum is not.
        const answer = errorResponse(
          402,
          'insufficient_credit',
          `your payment is credit ($${formatMoney(held.available, decimals)} available now), which no longer covers this request's maximum: top up with POST ${creditsPath}?amount=<dollars> using this account's token`,
        )
        if (token) answer.headers.set(tokenHeader, token)
        answer.headers.set('access-control-expose-headers', creditExposeHeaders)
        return respond(answer)
      }
      const [main] = config.accepts
      return meteredProceed({
        route: input.route,
        account,
        reservationId: held.reservationId,
        reserved: amount,
        resourceUrl: input.resourceUrl,
        ...(token ? { token } : {}),
        paid: {
          id,
          payer,
          settle,
          v1: input.v1,
          refundable: requirements.network === main?.network && requirements.asset === main?.asset.address,
          ...(input.recovered ? { recovered: true } : {}),
        },
      })
    } catch (error) {
      // Paid on chain but not credited: the payer's retry of the same payment, with a
      // sign-in, credits it (once: the top-up is keyed by the payment).
      events.emit('error', error)
      const answer = errorResponse(
        503,
        'store_unavailable',
        `the payment settled (${settle.transaction}) but could not be credited: ${(error as Error).message}. Retry with the same PAYMENT-SIGNATURE and a SIGN-IN-WITH-X proof (402x-client does both): it is credited once, never charged again`,
        2,
      )
      if (token) answer.headers.set(tokenHeader, token)
      return respond(answer)
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
    // Built only for someone listening (`onPayment`, webhooks …).
    if (events.listenerCount('payment') === 0 && events.listenerCount('settled') === 0) return
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
  const reconcile = async () => {
    const count = await reconcilePayments({
      ledger,
      facilitator,
      olderThanMs: 5_000,
      inFlight: (id) => inFlight.has(id),
    })
    // Crash recovery: reservations of requests that never finished go back to their callers.
    if (credits) await credits.service.expire()
    return count
  }
  const timer = interval > 0 ? setInterval(() => void reconcile().catch(() => {}), interval) : undefined
  timer?.unref()

  /** Fixed-price routes' amounts in the main asset, for the credit fast path. */
  const fastAmounts = new Map<ResolvedRoute, bigint>()
  for (const route of config.routes) {
    if (route.price === undefined || route.meter || route.free || route.skip || route.validate) continue
    const main = requirementsAt([config.accepts[0] as ResolvedOption], route, route.price)[0]
    if (main) fastAmounts.set(route, BigInt(main.amount))
  }
  const creditFastPath: CreditFastPath | undefined = credits && {
    eligible: (route) => fastAmounts.has(route),
    draw(route, token) {
      const amount = fastAmounts.get(route)
      if (amount === undefined) return undefined
      const service = credits.service
      // Known token and balance: no waiting at all.
      const now = service.holdNow(token, amount)
      if (now !== undefined) return 'ok' in now ? undefined : drawFromHold(now)
      return (async () => {
        const account = await service.accountFor(token)
        if (!account) return undefined
        const hold = await service.hold(account, amount)
        return 'ok' in hold ? undefined : drawFromHold(hold)
      })()
    },
  }

  /**
   * A price known up front, held in memory: charged when the handler answers below 400,
   * released otherwise, given back once if the answer never left. The receipt is its
   * `X-402x-Receipt` value.
   */
  function drawFromHold(hold: Hold): FastDraw {
    return new CreditDraw(hold)
  }

  /** One request's held credit (a class: the hot path allocates one object, not closures). */
  class CreditDraw implements FastDraw {
    charged = false
    context: unknown
    done: ((context: unknown, result: string | Response) => void) | undefined
    resource: string | (() => string) = ''
    constructor(readonly hold: Hold) {}

    drop() {
      creditService().drop(this.hold)
    }

    async undelivered() {
      if (!this.charged) return
      this.charged = false
      const { account, amount } = this.hold
      await creditService()
        .refund(account, amount, `undelivered:${randomUUID()}`, 'response not delivered')
        .catch((error) => events.emit('error', error))
    }

    finish(status: number, resource: () => string): Promise<string | Response> {
      return new Promise((resolve) => this.settle(status, resolve, (resolve_, result) => resolve_(result), resource))
    }

    settle<T>(
      status: number,
      context: T,
      done: (context: T, result: string | Response) => void,
      resource: string | (() => string),
    ) {
      const service = creditService()
      this.context = context
      this.done = done as (context: unknown, result: string | Response) => void
      this.resource = resource
      if (status < 400) return service.chargeThen(this.hold, this.hold.amount, this, afterCharge)
      service.drop(this.hold)
      service
        .available(this.hold.account)
        .then(
          (balance) => ({ ...this.receipt(0n, balance), reason: 'handler_error' as const }),
          (error) => faultResponse(error),
        )
        .then((result) => this.tell(result))
        .catch((error) => events.emit('error', error))
    }

    receipt(captured: bigint, balance: bigint): CreditReceipt {
      const reserved = this.hold.amount
      return { reserved, captured, returned: reserved - captured, balance, decimals, refund: 'credit' }
    }

    tell(result: CreditReceipt | Response) {
      const done = this.done as (context: unknown, result: string | Response) => void
      if (result instanceof Response) return done(this.context, result)
      if (events.listenerCount('receipt') > 0) {
        const resource = typeof this.resource === 'string' ? this.resource : this.resource()
        receiptEvent(result, resource, this.hold.account)
      }
      done(this.context, receiptJson(result))
    }
  }
  /** The charge of a draw is written (or refused): its receipt, or the fault. */
  const afterCharge = (draw: CreditDraw, error: unknown, balance: bigint) => {
    if (error) return draw.tell(faultResponse(error))
    draw.charged = true
    draw.tell(draw.receipt(draw.hold.amount, balance))
  }

  const paywallCredits = credits && operatorCredits(credits, decimals)

  return {
    config,
    events,
    match,
    handle,
    reconcile,
    credits: paywallCredits,
    creditFastPath,
    async close() {
      if (timer) clearInterval(timer)
      await credits?.service.close()
      await ledger.close()
    },
  }
}

const respond = (response: Response): Decision => ({ type: 'respond', response })
