import type { PaymentRecord } from '../../ledger/types.js'
import { provenPayer, retryKnown, signInChallenge, signInRequired } from '../../paywall/retryKnown.js'
import type { Decision } from '../../paywall/types.js'
import { type PaidContext, paymentRequired, refuse, respond, unlock } from '../context.js'
import { recoverCreditPayment } from '../metered/recoverCreditPayment.js'
import { returning } from '../returnPart.js'
import { emitPayment, markUndelivered } from '../runtime.js'

/**
 * This authorization is already recorded, live: a retry of a payment made before (its paid
 * answer not delivered, a settlement that faulted, a payment for credit) or a replay. The
 * decision for it, or `retry`: never used on chain and still valid, so it is verified and
 * recorded anew. Money: a known payment is never charged twice; only the payer's sign-in
 * (spent once) gets what it paid for. Every answer but `retry` releases the lock.
 */
export async function knownPayment(ctx: PaidContext, known: PaymentRecord): Promise<Decision | 'retry'> {
  const { rt, request } = ctx
  const { requirements, exact, v1 } = ctx.payment as NonNullable<PaidContext['payment']>
  const auth = exact.authorization
  const resourceUrl = ctx.resourceUrl
  const proof = provenPayer(request, resourceUrl, requirements.network)
  /** The payer's proof, spent: a proof grants once. */
  const provenBy = async (payer: string) =>
    proof && proof.address === payer.toLowerCase() && (await rt.spendProof(proof)) ? proof.address : undefined
  /** The answers to a known payment presented again that serves nothing. */
  const refuseKnown = async (outcome: 'used' | 'sign_in', why: string): Promise<Decision> => {
    await unlock(ctx)
    if (outcome === 'used') {
      return refuse(ctx, {
        isValid: false,
        reason: 'invalid_exact_evm_nonce_already_used',
        message: `this signed payment was already used (${known.state}); sign a new one`,
        payer: auth.from,
      })
    }
    rt.events.emit('rejected', { payer: auth.from, reason: 'sign_in_required', message: why, resource: resourceUrl })
    return respond(
      paymentRequired(ctx, signInRequired, undefined, undefined, signInChallenge(resourceUrl, requirements)),
    )
  }
  if (ctx.route === rt.creditsRoute || ctx.route.meter) {
    // A payment for credit presented again: its money is (or becomes) credit, never a
    // second charge and never lost. The payer's sign-in gets the account's token back.
    const recovered = await recoverCreditPayment(rt, {
      known,
      signature: exact.signature,
      payer: auth.from,
      proven: () => provenBy(known.payer),
      requirements,
      method: request.method,
      resourceUrl,
      v1,
      token: ctx.identity.token,
      route: ctx.route,
    })
    if (recovered === 'used' || recovered === 'sign_in') {
      return refuseKnown(recovered, 'a retry of a payment for credit without a sign-in')
    }
    if (recovered === 'retry') return 'retry'
    await unlock(ctx)
    return recovered
  }
  const retry = await retryKnown({
    known,
    ledger: rt.ledger,
    facilitator: rt.facilitator,
    signature: exact.signature,
    payer: auth.from,
    proven: await provenBy(known.payer),
    requirements,
    method: request.method,
    resourceUrl,
    v1,
    unlock: () => unlock(ctx),
    settled: (settle) =>
      emitPayment(rt, known.id, 'settled', settle, requirements, auth.from, request.method, resourceUrl),
    markUndelivered: (id) => markUndelivered(rt, id, auth.from, resourceUrl),
  })
  if (retry.type === 'decision') {
    const { decision } = retry
    if (decision.type !== 'proceed' || !rt.config.credits) return decision
    // Served again without a new charge: what a batch gives back is given once (returnPart).
    const settle = async () => {
      const out = await decision.finish(new Response(null, { status: 200 }))
      return out.status >= 400 ? out : { headers: [...out.headers] as [string, string][] }
    }
    return { ...decision, finishReturning: returning(ctx, known.id, settle) }
  }
  if (retry.type === 'sign_in' || retry.type === 'used') {
    return refuseKnown(retry.type, 'a retry of a paid, undelivered payment without a sign-in')
  }
  return 'retry'
}
