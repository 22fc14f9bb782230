import { formatMoney } from '@402x/core'
import { creditExposeHeaders, tokenHeader } from '../paywall/credits.js'
import type { Returned, ReturnOutcome, StatusOutcome } from '../paywall/types.js'
import type { PaidContext } from './context.js'
import { payBackOnchain } from './payBackOnchain.js'
import { creditService, type PaywallRuntime } from './runtime.js'

/** Which payment gives part of itself back, to whom, and why. */
export type ReturnPart = {
  /** The payment's ledger row. */
  id: string
  payer: string
  /** Atomic units to give back: below the payment's amount. */
  amount: bigint
  /** The credit token the request presented: its account is credited, else a new one is opened. */
  token: string | undefined
  /** Paid in the main asset on the main network: what an on-chain refund can send back. */
  refundable: boolean
  /** Why, for `refunded` listeners and webhooks (`payment.refunded`). */
  reason: string
}

/**
 * Gives part of a settled payment back to its payer (the operations of a GraphQL batch
 * that failed entirely): as credit in the account of the token it presented (else in a new
 * account, whose token goes back in `X-402x-Credit-Token`), or, with `credits.refund:
 * 'onchain'`, sent back on chain from that credit. Once per payment: the credit is the
 * top-up keyed by the payment's id, so a retry gives nothing twice. Never throws: a credit
 * the store cannot write is reported (`error`) and told to `error` listeners; the payment,
 * settled, stands in the ledger with its whole amount.
 *
 * @example
 * const { returned, headers } = await returnPart(rt, { id, payer, amount: 2_000n, token, refundable: true, reason })
 */
export async function returnPart(
  rt: PaywallRuntime,
  input: ReturnPart,
): Promise<{ returned: Returned; headers: [string, string][] }> {
  const { id, payer, amount } = input
  const credits = rt.config.credits
  if (!credits) {
    return { returned: { amount, refund: 'credit', error: 'credit is off here (credits: false)' }, headers: [] }
  }
  const service = credits.service
  let token: string | undefined
  const headers = (): [string, string][] =>
    token
      ? [
          [tokenHeader, token],
          ['access-control-expose-headers', creditExposeHeaders],
        ]
      : []
  try {
    let account = await service.accountOfPayment(id)
    if (!account && input.token) account = await service.accountFor(input.token)
    if (!account) ({ account, token } = await creditService(rt).open())
    // Its webhook events commit with the credit that gives the part back, or not at all; an
    // on-chain refund is sent from that credit after.
    const onchain = credits.refund === 'onchain' && input.refundable
    const usd = formatMoney(amount, credits.decimals)
    const events = rt.webhooks && [
      ...rt.webhooks.events('credit.topped_up', id, { paymentId: id, payer, account, amount: usd }),
      ...rt.webhooks.events('payment.refunded', id, {
        paymentId: id,
        payer,
        amount: usd,
        reason: input.reason,
        refund: onchain ? 'onchain' : 'credit',
      }),
    ]
    const { balance, replayed } = await service.topUp(account, amount, id, events)
    let returned: Returned = { amount, refund: 'credit', balance, ...(token ? { token } : {}) }
    if (replayed) return { returned, headers: headers() }
    rt.events.emit('toppedUp', { id, payer, account, amount })
    if (onchain) {
      const back = await payBackOnchain(rt, { account, amount, ref: `${id}:refund`, payer, balance })
      returned = {
        ...returned,
        balance: back.balance,
        refund: back.refund,
        ...(back.transaction ? { transaction: back.transaction } : {}),
      }
    }
    rt.events.emit('refunded', {
      id,
      payer,
      amount,
      reason: input.reason,
      ...(returned.transaction ? { transaction: returned.transaction } : {}),
    })
    return { returned, headers: headers() }
  } catch (error) {
    rt.events.emit('error', error)
    return {
      returned: {
        amount,
        refund: 'credit',
        ...(token ? { token } : {}),
        error: `the payment settled, but its part to give back could not be credited: ${(error as Error).message}`,
      },
      headers: headers(),
    }
  }
}

/**
 * A decision's `finishReturning` for this request's x402 payment (row `id`): `settle` serves
 * it as paid (a fresh payment settles; a retry of one settled before is served again), then
 * `returned` of it is given back (returnPart, once per payment). A failed or unknown
 * settlement gives nothing back: nothing was taken.
 */
export function returning(ctx: PaidContext, id: string, settle: () => Promise<StatusOutcome>) {
  const { rt } = ctx
  const { requirements, exact } = ctx.payment as NonNullable<PaidContext['payment']>
  const [main] = rt.config.accepts
  return async (returned: bigint): Promise<ReturnOutcome> => {
    if (returned <= 0n || returned >= BigInt(requirements.amount)) {
      throw new RangeError(`finishReturning(${returned}): give back more than 0 and less than the payment`)
    }
    const outcome = await settle()
    if (outcome instanceof Response) return outcome
    const back = await returnPart(rt, {
      id,
      payer: exact.authorization.from,
      amount: returned,
      token: ctx.identity.token,
      refundable: requirements.network === main?.network && requirements.asset === main?.asset.address,
      reason: 'operations that failed entirely',
    })
    return { headers: [...(outcome?.headers ?? []), ...back.headers], returned: back.returned }
  }
}
