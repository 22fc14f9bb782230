import type { SettleResponse } from '@402x/core'
import { findSettlement } from './findSettlement.js'
import { confirmSent, type Held } from './heldTransactions.js'
import { awaitSettlement } from './settleExact.js'
import type { VerifiedExact } from './verifyExact.js'

export type SettleHeldOptions = {
  /** How long to send the transaction again and look it up before answering `settlement_unknown`. */
  confirmTimeoutMs: number
  receiptTimeoutMs: number
}

/**
 * Settles through a transaction signed before whose fate is not known (its send got no
 * answer, or its receipt did not come in time): its bytes are sent again and its hash
 * looked up. Known to the node: its receipt is awaited (settled, failed, or
 * `settlement_pending`, which then always means the node has it). Still unknown in time:
 * `settlement_unknown` with its hash (nothing may be served for it yet). Its nonce taken by
 * another transaction: it can never land, so the chain says what became of the
 * authorization; `unused` lets the caller send a fresh transaction (the authorization is
 * single-use: at most one of them can transfer).
 */
export async function settleHeld(
  held: Held,
  asset: string,
  verified: Pick<VerifiedExact, 'payer' | 'authorization'>,
  options: SettleHeldOptions,
): Promise<SettleResponse | 'unused'> {
  const { chain, wallet, sent } = held
  const base = { network: chain.network, payer: verified.payer, amount: verified.authorization.value }
  const unknown = (why: string): SettleResponse => ({
    ...base,
    success: false,
    errorReason: 'settlement_unknown',
    errorMessage: `transaction ${sent.hash} ${why}; it is sent again until it is mined or the authorization expires`,
    transaction: sent.hash,
  })
  const confirmed = await confirmSent(chain, wallet, sent, options.confirmTimeoutMs)
  if (confirmed === 'known') {
    return awaitSettlement(chain, sent.hash, asset, verified, {
      receiptTimeoutMs: options.receiptTimeoutMs,
      onDropped: () => wallet.resync(),
    })
  }
  if (confirmed === 'unknown') return unknown('was sent, but the node does not answer or does not know it')
  const proof = await findSettlement(chain, asset, verified.authorization).catch(() => undefined)
  if (!proof) return unknown('cannot land (its nonce was used) and the chain could not be read')
  if (proof.state === 'transferred') return { ...base, success: true, transaction: proof.transaction }
  if (proof.state === 'void') {
    return { ...base, success: false, errorReason: 'settlement_failed', errorMessage: proof.reason, transaction: '' }
  }
  return 'unused'
}
