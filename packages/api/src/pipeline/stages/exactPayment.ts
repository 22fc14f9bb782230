import type { Invalid } from '@402x/core'
import { paymentId } from '../../ledger/paymentId.js'
import { faultResponse, receiptPairs, withHeaders } from '../../paywall/responses.js'
import type { Decision, StatusOutcome } from '../../paywall/types.js'
import type { Stage } from '../compose.js'
import { type PaidContext, refuse, respond, unlock } from '../context.js'
import { settleFirst } from '../metered/settleFirst.js'
import { returning } from '../returnPart.js'
import { emitPayment, markUndelivered } from '../runtime.js'
import { settlePayment } from '../settlePayment.js'
import { knownPayment } from './knownPayment.js'

/**
 * Exact payment: lock (network, asset, from, nonce) → verify → record (`verified`) →
 * proceed, with `finish` settling when the handler answers below 400 and releasing
 * otherwise. A top-up or a metered maximum is settled first (settleFirst). Reads
 * `payment`; sets `lockKey`, `row`. Money: recorded before it is acknowledged; a payment
 * is served once; the lock is released on every path (here, or by `finish`/`abort`).
 */
export const exactPayment: Stage = async (ctx) => {
  const { rt } = ctx
  const { requirements, exact } = ctx.payment as NonNullable<PaidContext['payment']>
  const auth = exact.authorization
  const lockKey = `${requirements.network}:${requirements.asset}:${auth.from}:${auth.nonce}`.toLowerCase()
  const ttl = (Number(auth.validBefore) - Math.floor(Date.now() / 1000) + 60) * 1000
  if (!(await rt.locks.acquire(lockKey, Math.max(ttl, 60_000)))) {
    return refuse(ctx, {
      isValid: false,
      reason: 'payment_in_flight',
      message: 'this payment is already being processed for another request; each signed payment is served once',
      payer: auth.from,
    })
  }
  ctx.lockKey = lockKey
  try {
    const recorded = await verifyAndRecord(ctx)
    if (typeof recorded !== 'string') return recorded
    return await proceed(ctx, recorded)
  } catch (error) {
    await unlock(ctx)
    return respond(faultResponse(error))
  }
}

/**
 * Verifies and records a new payment: its row id, or the decision that ends the request.
 * The ledger is asked whether this authorization is already known only when one of the
 * two fails (a known payment is used on chain, or in flight, or its live row refuses the
 * insert), sparing every new payment a read. A known payment's `retry` goes round once more.
 */
async function verifyAndRecord(ctx: PaidContext): Promise<string | Decision> {
  const { rt, request } = ctx
  const { payload, requirements, exact } = ctx.payment as NonNullable<PaidContext['payment']>
  const auth = exact.authorization
  let retried = false
  /** The live payment recorded for this authorization (looked up once), and what to do with it. */
  const known = async (): Promise<Decision | 'again' | undefined> => {
    if (retried) return undefined
    const record = await rt.ledger.findByNonce(requirements.network, requirements.asset, auth.from, auth.nonce)
    if (!record) return undefined
    const outcome = await knownPayment(ctx, record)
    if (outcome !== 'retry') return outcome
    retried = true
    return 'again'
  }
  for (;;) {
    let verified: Awaited<ReturnType<typeof rt.facilitator.verify>> | undefined
    let fault: { error: unknown } | undefined
    try {
      verified = await rt.facilitator.verify(payload, requirements)
    } catch (error) {
      fault = { error }
    }
    if (fault || !verified?.isValid) {
      const outcome = await known()
      if (outcome === 'again') continue
      if (outcome) return outcome
      if (fault) throw fault.error
      await unlock(ctx)
      return refuse(ctx, {
        isValid: false,
        reason: (verified?.invalidReason ?? 'invalid_payload') as Invalid['reason'],
        message: verified?.invalidMessage ?? 'the facilitator refused this payment',
        payer: auth.from,
      })
    }
    const id = paymentId()
    ctx.verifiedAt = Date.now()
    const inserted = await rt.ledger.insert({
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
      resource: ctx.resourceUrl,
      payload: JSON.stringify(payload),
      requirements: JSON.stringify(requirements),
    })
    if (inserted) return id
    const outcome = await known()
    if (outcome === 'again') continue
    if (outcome) return outcome
    await unlock(ctx)
    return refuse(ctx, {
      isValid: false,
      reason: 'payment_in_flight',
      message: 'this signed payment is already recorded for another request; sign a new one',
      payer: auth.from,
    })
  }
}

/** The recorded payment's decision: settle first (credit, metered), or serve then settle. */
async function proceed(ctx: PaidContext, id: string): Promise<Decision> {
  const { rt, request } = ctx
  const { requirements, exact, v1 } = ctx.payment as NonNullable<PaidContext['payment']>
  const payer = exact.authorization.from
  const resourceUrl = ctx.resourceUrl
  const verifiedAt = ctx.verifiedAt
  ctx.row = id
  rt.inFlight.add(id)
  if (rt.events.listenerCount('verified') > 0) {
    rt.events.emit('verified', { id, payer, amount: BigInt(requirements.amount), resource: resourceUrl })
  }
  if (ctx.route === rt.creditsRoute || ctx.route.meter) {
    try {
      return await settleFirst(ctx, id, verifiedAt)
    } finally {
      await unlock(ctx)
    }
  }
  let paid = false
  /** Settles (status < 400) or releases, and unlocks the payment. */
  const finishStatus = async (status: number): Promise<StatusOutcome> => {
    try {
      const outcome = await settlePayment(ctx, id, verifiedAt, status)
      if (outcome === 'released') return undefined
      if (outcome instanceof Response) return outcome
      paid = true
      emitPayment(rt, id, outcome.state, outcome.settle, requirements, payer, request.method, resourceUrl)
      return { headers: receiptPairs(outcome.settle, v1) }
    } finally {
      await unlock(ctx)
    }
  }
  return {
    type: 'proceed',
    requirements,
    undelivered: async () => {
      if (paid) await markUndelivered(rt, id, payer, resourceUrl)()
    },
    abort: async (reason) => {
      try {
        await rt.ledger.transition(id, 'released', { reason: 'not_served', message: reason })
        rt.events.emit('released', { id, payer, reason })
      } finally {
        await unlock(ctx)
      }
    },
    finish: async (response) => {
      const outcome = await finishStatus(response.status)
      if (outcome === undefined) return response
      return outcome instanceof Response ? outcome : withHeaders(response, outcome.headers)
    },
    finishStatus,
    ...(rt.config.credits ? { finishReturning: returning(ctx, id, () => finishStatus(200)) } : {}),
  }
}
