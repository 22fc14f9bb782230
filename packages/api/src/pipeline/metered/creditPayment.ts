import { formatMoney, type PaymentRequirements, type SettleResponse } from '@402x/core'
import { creditExposeHeaders, creditsPath, jsonResponse, tokenHeader } from '../../paywall/credits.js'
import type { ResolvedRoute } from '../../paywall/resolvePaywall.js'
import { errorResponse, stampReceipt } from '../../paywall/responses.js'
import type { Decision } from '../../paywall/types.js'
import { respond } from '../context.js'
import { creditService, type PaywallRuntime } from '../runtime.js'
import { meteredProceed } from './meteredProceed.js'

export type CreditPayment = {
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
 * Puts a settled payment into a credit account (the one it went to before, the presented
 * token's, or a new one; idempotent by the payment id), then answers a top-up with the
 * token or serves the metered request from that credit. Money: credited once per payment,
 * whatever fails after settling.
 */
export async function creditPayment(rt: PaywallRuntime, input: CreditPayment): Promise<Decision> {
  const { id, payer, requirements, settle } = input
  const { decimals, events, config } = rt
  const service = creditService(rt)
  const amount = BigInt(requirements.amount)
  let account: string | undefined
  let token: string | undefined
  try {
    const presented = input.token ? await service.accountFor(input.token) : undefined
    account = await service.accountOfPayment(id)
    if (!account) account = presented
    if (!account) ({ account, token } = await service.open())
    else if (input.recovered && presented !== account) token = await service.issue(account)
    // The webhook event commits with the top-up, or not at all.
    const event = rt.webhooks?.events('credit.topped_up', id, {
      paymentId: id,
      payer,
      account,
      amount: formatMoney(amount, decimals),
    })
    const { balance, replayed } = await service.topUp(account, amount, id, event)
    // Once per payment: a recovered retry of a payment credited before adds nothing.
    if (!replayed) events.emit('toppedUp', { id, payer, account, amount })
    if (input.route === rt.creditsRoute) {
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
    const ttl = (config.credits as NonNullable<typeof config.credits>).reservationTtlMs
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
    return meteredProceed(rt, {
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
