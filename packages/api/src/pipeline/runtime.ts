import { EventEmitter } from 'node:events'
import type { PaymentRequirements, SettleResponse } from '@402x/core'
import type { Analytics } from '../analytics/createAnalytics.js'
import type { CreditService } from '../credits/creditService.js'
import type { Observability } from '../observe/createObservability.js'
import { receiptHeaders } from '../paywall/credits.js'
import type { Locks } from '../paywall/locks.js'
import type { PaywallKeys } from '../paywall/operatorKeys.js'
import { paymentEvent } from '../paywall/paymentEvent.js'
import { createQuoter } from '../paywall/quote.js'
import type { ResolvedPaywall, ResolvedRoute } from '../paywall/resolvePaywall.js'
import { receiptPairs, withHeaders } from '../paywall/responses.js'
import type { Proof } from '../paywall/retryKnown.js'
import { receiptJson } from '../paywall/streamMeter.js'
import type { CreditReceipt, PaymentEvent, PaywallEvents, PaywallOptions } from '../paywall/types.js'
import type { ResolvedPortal } from '../portal/portalOptions.js'
import { type NoAddress, noAddressWarning } from '../ratelimit/noAddressWarning.js'
import type { WebhookService } from '../webhooks/createWebhooks.js'

/**
 * What every stage of one paywall shares: its settings, stores and events. Built once by
 * `createPaywall`; a request's own state lives on its {@link PaidContext}, never here.
 */
export type PaywallRuntime = {
  config: ResolvedPaywall
  ledger: ResolvedPaywall['ledger']
  facilitator: ResolvedPaywall['facilitator']
  locks: Locks
  events: EventEmitter<PaywallEvents>
  quote: ReturnType<typeof createQuoter>
  /** The ledger rows of payments this process is serving or settling: its reconciler leaves them alone. */
  inFlight: Set<string>
  /** Routes whose price function was already reported as inconsistent (warned once). */
  warned: WeakSet<ResolvedRoute>
  /** A limit or free tier counted a caller by IP without an address: warned once per paywall. */
  noAddress: NoAddress
  /** `/__402x/credits`, the route that sells credit. */
  creditsRoute: ResolvedRoute
  decimals: number
  /** `paywall.keys`, for the admin API; set by `createPaywall` on a paywall with `keys`. */
  adminKeys?: PaywallKeys
  /** The dashboard's analytics (`/__402x/admin/stats`); set by `createPaywall`. */
  analytics?: Analytics
  /** Metrics and logs (observe/createObservability.ts), set by `createPaywall`. */
  observe?: Observability
  /** The developer portal's settings; `undefined` with `portal: false`. */
  portal?: ResolvedPortal
  /** Spends a sign-in proof: `true` the first time it grants something, until it expires. */
  spendProof(proof: Proof): Promise<boolean>
  /** The webhooks (docs/webhooks.md); set by `createPaywall` on a ledger with an outbox. */
  webhooks?: WebhookService
}

export function createRuntime(options: PaywallOptions, config: ResolvedPaywall, locks: Locks): PaywallRuntime {
  const events = new EventEmitter<PaywallEvents>()
  if (options.onPayment) events.on('payment', options.onPayment)
  // A listener error must never break a payment already settled.
  events.on('error', () => {})
  const { spentProofs } = config.stores
  return {
    config,
    ledger: config.ledger,
    facilitator: config.facilitator,
    locks,
    events,
    quote: createQuoter(config, config.ledger),
    inFlight: new Set(),
    warned: new WeakSet(),
    noAddress: noAddressWarning(),
    creditsRoute: {
      usesPayer: false,
      needsRequest: false,
      description: 'Prepaid credit for this API: POST ?amount=<dollars>, then send Authorization: Bearer <token>',
      mimeType: 'application/json',
      maxTimeoutSeconds: 300,
    },
    decimals: config.asset.decimals,
    // In the shared store (stores.spentProofs): a proof grants once, in every process on it.
    spendProof: (proof) => spentProofs.spend(`retry:${proof.address}:${proof.nonce}`, proof.expiresAt),
  }
}

/** The credit service; only called where `credits` is on. */
export const creditService = (rt: PaywallRuntime): CreditService =>
  (rt.config.credits as NonNullable<ResolvedPaywall['credits']>).service

/** The handler's response with the receipt (and the payment's settlement and a new token). */
export function stamp(
  response: Response,
  receipt: CreditReceipt | string,
  token?: string,
  paid?: { settle: SettleResponse; v1: boolean },
): Response {
  const json = typeof receipt === 'string' ? receipt : receiptJson(receipt)
  const settled = paid ? receiptPairs(paid.settle, paid.v1) : []
  return withHeaders(response, [...settled, ...receiptHeaders(json, token)])
}

/** Tells `receipt` listeners; a listener's fault never reaches the caller. */
export function receiptEvent(rt: PaywallRuntime, receipt: CreditReceipt, resource: string, account: string): void {
  try {
    rt.events.emit('receipt', { ...receipt, resource, account })
  } catch (error) {
    rt.events.emit('error', error)
  }
}

/** Flags a paid response as not delivered, so that a retry of the payment is served. */
export const markUndelivered = (rt: PaywallRuntime, id: string, payer: string, resource: string) => async () => {
  try {
    if (await rt.ledger.setUndelivered(id, true)) rt.events.emit('undelivered', { id, payer, resource })
  } catch (error) {
    rt.events.emit('error', error)
  }
}

/** Tells `payment`/`settled` listeners; the event is built only for someone listening. */
export function emitPayment(
  rt: PaywallRuntime,
  id: string,
  state: PaymentEvent['state'],
  settle: SettleResponse,
  requirements: PaymentRequirements,
  payer: string,
  method: string,
  resource: string,
): void {
  const { events } = rt
  if (events.listenerCount('payment') === 0 && events.listenerCount('settled') === 0) return
  try {
    const event = paymentEvent({ id, state, settle, requirements, payer, method, resource, decimals: rt.decimals })
    events.emit('payment', event)
    events.emit('settled', event)
  } catch (error) {
    events.emit('error', error)
  }
}
