import type {
  decodeHeader,
  ExactEvmPayload,
  Invalid,
  PaymentPayload,
  PaymentPayloadSchema,
  PaymentPayloadV1Schema,
  PaymentRequirements,
  SettleResponse,
} from '@402x/core'
import type { ApiKeyRecord, PlanDefinition } from '../keys/types.js'
import { creditsExtension, creditsOffer } from '../paywall/credits.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import type { Decision, RequestHead } from '../paywall/types.js'
import { frameworkRoute } from './frameworkRoute.js'
import { paymentRequiredResponse } from './paymentRequiredResponse.js'
import type { PaywallRuntime } from './runtime.js'

/** What the adapter knows of a request beyond its head (docs/architecture.md, "The seam"). */
export type HandleContext = {
  /** The request as the framework shows it (Express `req` …); else built from the `Request`. */
  req?: unknown
  ip?: string | undefined
  /** Route parameters the framework knows, for the request view built for pricing code. */
  params?: Record<string, string>
  /**
   * Whether something serves `/__402x/credits` for this request; `false` leaves the top-up
   * out of a 402 (a per-route paywall alone). Unknown (`undefined`): offered.
   */
  creditsServed?: boolean
}

/** Who calls, resolved once by the identity stage for everything that counts callers. */
export type Identity = {
  /** The caller's address as the adapter saw it (Express: `req.ip`, after `trust proxy`). */
  address: string | undefined
  /** The caller's address grouped for counting: IPv6 by its /64, IPv4-mapped IPv6 as IPv4. */
  ip: string | undefined
  /** The credit token (`Authorization: Bearer …`), when credit is on. */
  token: string | undefined
  /** The address that signed the payment header, as claimed (verified later). */
  payer: string | undefined
  /** The API key sent (`Authorization: Bearer x402_…` or `X-API-Key`), not yet looked up. */
  key: string | undefined
}

/** The payment header, decoded (not yet matched or verified). */
export type DecodedPayment =
  | ReturnType<typeof decodeHeader<typeof PaymentPayloadSchema>>
  | ReturnType<typeof decodeHeader<typeof PaymentPayloadV1Schema>>

/**
 * One paid request's state as it passes the stages (docs/architecture.md, "The request
 * pipeline"). Each field is set by one stage and read by the ones after it.
 */
export class PaidContext {
  /** Set by `price` (or `creditsEndpoint`): dollars, as charged. */
  price: string | undefined = undefined
  /** Set by `price`: the payment options offered for this request. */
  accepts: PaymentRequirements[] = []
  /** Set by `price`: the route's x402 extensions, built only for a 402. */
  extensions: (() => Record<string, unknown>) | undefined = undefined
  /** Set by `price`: why a `SIGN-IN-WITH-X` proof was not accepted. */
  identityError: { reason: string; message: string } | undefined = undefined
  /** Set by `creditFunding` when credit falls short: the balance a 402 shows. */
  shownBalance: bigint | undefined = undefined
  /** Set by `requestView`: the request as pricing code sees it. */
  req: unknown
  /** Set by `identity`. */
  identity: Identity = noIdentity
  /** Set by `identity`: the payment header decoded, `undefined` without one. */
  decoded: DecodedPayment | undefined = undefined
  /** Set by `decodePayment`: the payment matched against `accepts`. */
  payment:
    | { payload: PaymentPayload; requirements: PaymentRequirements; exact: ExactEvmPayload; v1: boolean }
    | undefined = undefined
  /** Set by `apiKey`: the key's record and plan, the quota it reserved, whether it is overage. */
  apiKey:
    | { record: ApiKeyRecord; plan: PlanDefinition; reserved: { period: string; units: number }[]; over: boolean }
    | undefined = undefined
  /** Set by `creditFunding`: the credit account paying this request. */
  creditAccount: string | undefined = undefined
  /** Set by `exactPayment`: the in-flight lock on (network, asset, from, nonce), while held. */
  lockKey: string | undefined = undefined
  /** Set by `exactPayment`: when the payment was verified, ms epoch. */
  verifiedAt = 0
  /** Set by `exactPayment`: this payment's ledger row, once written (in flight until unlocked). */
  row: string | undefined = undefined
  /** The URL of the resource paid for: the origin and the matched path. */
  readonly resourceUrl: string
  /** The next stage to run (compose.ts). */
  index = 0
  /** Runs the next stage: one closure per request, shared by every stage. */
  readonly next: () => Promise<Decision>

  constructor(
    readonly rt: PaywallRuntime,
    readonly request: Request | RequestHead,
    readonly url: URL,
    readonly route: ResolvedRoute,
    readonly context: HandleContext,
    /** The URL callers use: configured, else the request's validated origin. */
    readonly origin: string,
    run: (ctx: PaidContext) => Promise<Decision>,
  ) {
    this.req = context.req
    this.resourceUrl = `${origin}${url.pathname}`
    this.next = () => run(this)
  }
}

const noIdentity: Identity = { address: undefined, ip: undefined, token: undefined, payer: undefined, key: undefined }

export const respond = (response: Response): Decision => ({ type: 'respond', response })

/** A 402 for this route: with a refusal reason, and the failed settlement if there was one. */
export function paymentRequired(
  ctx: PaidContext,
  error?: { reason: string; message: string },
  settle?: SettleResponse,
  status?: number,
  challenge?: Record<string, unknown>,
): Response {
  const { rt, route, extensions } = ctx
  const credits = rt.config.credits
  const offer =
    credits && route !== rt.creditsRoute && ctx.context.creditsServed !== false
      ? creditsOffer(credits, ctx.origin, ctx.shownBalance)
      : undefined
  const more = offer ? { ...challenge, ...creditsExtension(offer) } : challenge
  return paymentRequiredResponse({
    paywall: rt.config,
    route,
    accepts: ctx.accepts,
    price: ctx.price as string,
    url: ctx.resourceUrl,
    method: ctx.request.method,
    frameworkRoute: route.pattern ? undefined : frameworkRoute(ctx.context.req),
    ...(error ? { error } : {}),
    ...(settle ? { settle } : {}),
    ...(status ? { status } : {}),
    ...(extensions || more ? { extensions: { ...extensions?.(), ...more } } : {}),
    ...(offer ? { credits: offer } : {}),
  })
}

/** The 402 decision (or `status`), with what `errors: 'next'` hands the error handler. */
export function required(ctx: PaidContext, error?: { reason: string; message: string }, status?: number): Decision {
  const price = ctx.price as string
  return {
    type: 'respond',
    response: paymentRequired(ctx, error, undefined, status),
    ...(status === undefined || status === 402 ? { paymentRequired: { price, accepts: ctx.accepts, error } } : {}),
  }
}

/** A refused payment: told to `rejected` listeners, answered with a 402 (or `status`). */
export function refuse(ctx: PaidContext, error: Invalid, status = 402): Decision {
  ctx.rt.events.emit('rejected', {
    ...(error.payer ? { payer: error.payer } : {}),
    reason: error.reason,
    message: error.message,
    resource: ctx.resourceUrl,
  })
  return required(ctx, error, status)
}

/** Releases the in-flight lock (once) and the row's in-flight mark. */
export async function unlock(ctx: PaidContext): Promise<void> {
  const key = ctx.lockKey
  if (key === undefined) return
  ctx.lockKey = undefined
  if (ctx.row) ctx.rt.inFlight.delete(ctx.row)
  await ctx.rt.locks.release(key)
}
